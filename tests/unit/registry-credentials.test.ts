import { describe, expect, test } from '@jest/globals';
import { registryCredentials } from '../../runner/src/cli/deploy-input.js';

describe('registryCredentials', () => {
  const noLog = () => {};

  test('--password with no value is refused, naming how to give one', async () => {
    await expect(
      registryCredentials({ username: 'ci', password: '', 'password-stdin': false }, noLog),
    ).rejects.toThrow('--password needs a value: --password=VALUE, or better, --password-stdin');
  });

  test('--username with --password gives both, with a warning about the command line', async () => {
    const lines: string[] = [];
    const auth = await registryCredentials(
      { username: 'ci', password: 'pw', 'password-stdin': false },
      (line) => lines.push(line),
    );
    expect(auth).toEqual({ username: 'ci', password: 'pw', serveraddress: '' });
    expect(lines).toEqual([
      'warning: using --password on the command line is insecure: use --password-stdin',
    ]);
  });
});

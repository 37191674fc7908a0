import { describe, expect, test } from '@jest/globals';
import { parseEnvOnStdin, takeEnvOnStdin } from '../../adapter/src/env-on-stdin.js';

describe('the environment on stdin', () => {
  test('NAME=VALUE entries, the value taken after the first =', () => {
    expect(parseEnvOnStdin('["A=1","B=x=y","C="]')).toEqual({ A: '1', B: 'x=y', C: '' });
  });

  test('what is not a complete array of NAME=VALUE outside PILOTLIGHT_* is refused, naming the setting', () => {
    for (const text of ['["A=1",', '', '{"A":"1"}', '["=1"]', '["A"]', '[1]', '["PILOTLIGHT_PORT=1"]']) {
      expect(() => parseEnvOnStdin(text)).toThrow(/PILOTLIGHT_ENV_ON_STDIN/);
    }
  });

  test('read only when the setting says so, which is then cleared', () => {
    const untouched: Record<string, string | undefined> = { A: '0' };
    takeEnvOnStdin(untouched, () => {
      throw new Error('stdin read without the setting');
    });
    expect(untouched).toEqual({ A: '0' });
    const env: Record<string, string | undefined> = { A: '0', PILOTLIGHT_ENV_ON_STDIN: '1' };
    takeEnvOnStdin(env, () => '["A=1","TOKEN=t"]');
    expect(env).toEqual({ A: '1', TOKEN: 't' });
  });
});

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { sinceTime } from '../../runner/src/commands/function-commands.js';
import { readEnvFile } from '../../runner/src/spec/env-file.js';
import { readSpecFile } from '../../runner/src/spec/spec-file.js';
import { tempDir } from '../helpers/temp-dir.js';

let dir: string;
beforeAll(async () => {
  dir = tempDir('files');
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('spec files', () => {
  test('one function in YAML, a list in YAML, and JSON', async () => {
    expect(readSpecFile(await file('one.yaml', 'image: shop:1\nmemory: 1g\n'))).toEqual([
      { image: 'shop:1', memory: '1g' },
    ]);
    expect(readSpecFile(await file('two.yaml', '- image: shop:1\n- image: blog:2\n  min: 0\n'))).toEqual([
      { image: 'shop:1' },
      { image: 'blog:2', min: 0 },
    ]);
    expect(readSpecFile(await file('one.json', '{"image":"shop:1","env":{"A":"1"}}'))).toEqual([
      { image: 'shop:1', env: { A: '1' } },
    ]);
  });

  test('a file that is not a function, or not a file, says so with its path', async () => {
    const scalar = await file('scalar.yaml', 'just text\n');
    expect(() => readSpecFile(scalar)).toThrow(`${scalar}: the file is not a map of fields`);
    const broken = await file('broken.yaml', 'image: [unclosed\n');
    expect(() => readSpecFile(broken)).toThrow(/broken.yaml: not valid YAML or JSON/);
    expect(() => readSpecFile(join(dir, 'missing.yaml'))).toThrow(/missing.yaml: ENOENT/);
    const listed = await file('listed.yaml', '- image: shop:1\n- 42\n');
    expect(() => readSpecFile(listed)).toThrow(`${listed}: item 2 is not a map of fields`);
  });
});

describe('env files, as docker run --env-file reads them', () => {
  test('values kept as written, comments and blank lines skipped, a bare name from the environment', async () => {
    const path = await file(
      'app.env',
      '# a comment\nA=1\nQUOTED="x y"\n\n   INDENTED=z \nFROM_ENV\nMISSING\n',
    );
    expect(readEnvFile(path, { FROM_ENV: 'here' })).toEqual([
      'A=1',
      'QUOTED="x y"',
      'INDENTED=z ',
      'FROM_ENV=here',
    ]);
  });

  test('a name with a space is refused with its line number', async () => {
    const path = await file('bad.env', 'A=1\nBAD NAME=2\n');
    expect(() => readEnvFile(path, {})).toThrow(
      `--env-file ${path} line 2: "BAD NAME" is not a variable name`,
    );
  });
});

describe('events --since', () => {
  test('a duration means that long ago; a time means that moment', () => {
    const now = Date.parse('2026-11-26T22:00:00Z');
    expect(sinceTime('10m', now)).toBe(now - 600_000);
    expect(sinceTime('2026-11-26T21:00:00Z', now)).toBe(now - 3_600_000);
    expect(() => sinceTime('yesterday-ish', now)).toThrow(/neither a duration .* nor a time/);
  });
});

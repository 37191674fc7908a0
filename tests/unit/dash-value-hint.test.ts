import { describe, expect, test } from '@jest/globals';
import { dashValueHint } from '../../runner/src/cli/dash-value-hint.js';

describe('dashValueHint', () => {
  test('names the flag whose value began with a dash, without repeating the value', () => {
    const hint = dashValueHint('Unknown arguments: a, b, c', ['deploy', 'x:1', '--password', '-abc']);
    expect(hint).toBe('if the word after --password is its value, write it as --password=VALUE');
    expect(dashValueHint('Unknown argument: x', ['--name', '-x', '--json'])).toContain('--name=VALUE');
  });

  test('says nothing for a mistyped flag, a negative number, or another failure', () => {
    expect(dashValueHint('Unknown argument: bogus', ['deploy', 'x:1', '--bogus'])).toBeUndefined();
    expect(dashValueHint('Unknown argument: bogus', ['--json', '--bogus', 'x'])).toBeUndefined();
    expect(dashValueHint('Unknown argument: q', ['--name', '-x', '-q'])).toBeUndefined();
    expect(dashValueHint('Unknown argument: q', ['--min', '-1', '-q'])).toBeUndefined();
    expect(dashValueHint('Not enough non-option arguments', ['--name', '-x'])).toBeUndefined();
  });
});

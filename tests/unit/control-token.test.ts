import { timingSafeEqual } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { tokenCheck } from '../../runner/src/control/control-token.js';

const TOKEN = 'a3f1'.repeat(16);

describe('the control token check', () => {
  test('takes exactly `Bearer TOKEN` and nothing else', () => {
    const check = tokenCheck(TOKEN);
    expect(check(`Bearer ${TOKEN}`)).toBe(true);
    for (const wrong of [
      undefined,
      '',
      TOKEN,
      `bearer ${TOKEN}`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}0`,
      `Bearer ${TOKEN.slice(0, -1)}0`,
      `Bearer ${TOKEN} `,
    ]) {
      expect({ wrong, ok: check(wrong) }).toEqual({ wrong, ok: false });
    }
  });

  test('every guess, of any length, goes through one constant-time comparison of equal-length digests', () => {
    const compared: Array<[number, number]> = [];
    const check = tokenCheck(TOKEN, (a, b) => {
      compared.push([a.length, b.length]);
      return timingSafeEqual(a, b);
    });
    for (const guess of [undefined, 'x', `Bearer ${TOKEN}`, `Bearer ${TOKEN}${'0'.repeat(500)}`])
      check(guess);
    expect(compared).toEqual(Array(4).fill([32, 32]));
  });
});

import { describe, expect, test } from '@jest/globals';
import { afterStartFailure, initialStartBackoff } from '../../runner/src/autoscaler/start-backoff.js';

describe('starts the engine refuses', () => {
  test('hold further starts 0.5 s, doubling with each refusal in a row, never more than 10 s', () => {
    let state = initialStartBackoff();
    const holds: number[] = [];
    for (let refusal = 0; refusal < 7; refusal++) {
      state = afterStartFailure(state, 1000);
      holds.push(state.holdStartsUntil - 1000);
    }
    expect(holds).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});

import { describe, expect, test } from '@jest/globals';
import {
  afterDeath,
  backoffDelay,
  defaultCrashBackoffConfig,
  inBackoff,
  initialCrashState,
  type CrashState,
} from '../../runner/src/autoscaler/crash-backoff.js';

const config = { firstDelayMs: 1000, maxDelayMs: 8000, healthyAfterMs: 60_000 };
/** A death at `at` of an instance that ran `ranMs` (started just before that, unless told otherwise). */
const death = (
  at: number,
  ranMs: number | undefined,
  extra: { startedAt?: number; external?: boolean } = {},
) => ({
  at,
  ranMs,
  instance: 'i',
  reason: 'exited with code 3',
  startedAt: extra.startedAt ?? at - (ranMs ?? 50),
  external: extra.external ?? false,
});
describe('crash-loop backoff', () => {
  test('the first death of a healthy function is replaced at once', () => {
    const state = afterDeath(initialCrashState(), death(10_000, 5_000), config);
    expect(state.consecutive).toBe(1);
    expect(inBackoff(state, 10_000)).toBe(false);
  });

  test('each further death after a short run doubles the wait, up to the cap', () => {
    let state: CrashState = initialCrashState();
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      now = Math.max(now, state.holdStartsUntil) + 500; // each replacement starts, runs 0.4 s, then dies
      state = afterDeath(state, death(now, 400), config);
      waits.push(state.holdStartsUntil - now);
    }
    expect(waits).toEqual([0, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(inBackoff(state, now + 7999)).toBe(true);
    expect(inBackoff(state, now + 8000)).toBe(false);
  });

  test('a start that never became ready counts as a short run', () => {
    const once = afterDeath(initialCrashState(), death(0, undefined), config);
    expect(afterDeath(once, death(100, undefined), config).holdStartsUntil).toBe(1100);
  });

  test('a death after a long healthy run starts the count again', () => {
    let state = afterDeath(initialCrashState(), death(0, 100), config);
    state = afterDeath(state, death(1000, 100), config);
    state = afterDeath(state, death(3000, 100), config);
    expect(state.consecutive).toBe(3);
    state = afterDeath(state, death(200_000, 120_000), config);
    expect(state.consecutive).toBe(1);
    expect(inBackoff(state, 200_000)).toBe(false);
  });

  test('the defaults: 1 s after the second death, never more than a minute', () => {
    const defaults = defaultCrashBackoffConfig();
    expect(backoffDelay(2, defaults)).toBe(1000);
    expect(backoffDelay(40, defaults)).toBe(60_000);
  });

  test('instances that die together (an engine restart) count once: only a replacement that dies is a loop', () => {
    let state = initialCrashState();
    for (const name of ['a', 'b', 'c'])
      state = afterDeath(state, { ...death(10_000, 5000), instance: name }, config);
    expect(state.consecutive).toBe(1);
    expect(inBackoff(state, 10_000)).toBe(false);
    expect(state.last?.instance).toBe('c');
    // The replacement, started after those deaths, dies soon too: that is the loop.
    state = afterDeath(state, death(12_000, 1000, { startedAt: 10_500 }), config);
    expect(state.consecutive).toBe(2);
    expect(state.holdStartsUntil).toBe(13_000);
  });

  test('a death someone asked the engine for (docker kill, rm -f) is told but not counted', () => {
    let state = afterDeath(initialCrashState(), death(0, 100), config);
    state = afterDeath(state, death(1000, 500, { external: true }), config);
    expect(state.consecutive).toBe(1);
    expect(inBackoff(state, 1000)).toBe(false);
    expect(state.last?.at).toBe(1000);
  });
});

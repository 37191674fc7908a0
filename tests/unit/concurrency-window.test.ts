import { describe, expect, test } from '@jest/globals';
import { ConcurrencyWindow } from '../../runner/src/autoscaler/concurrency-window.js';

describe('concurrency window', () => {
  test('the average does not depend on how many observations arrived, only on the seconds they cover', () => {
    const steady = new ConcurrencyWindow(60_000);
    const bursty = new ConcurrencyWindow(60_000);
    for (let second = 1; second <= 60; second++) {
      steady.record(second * 1000, second === 30 ? 10 : 1);
      bursty.record(second * 1000, 1);
      // In one second, a thousand waiting requests each asked for capacity and each added an observation.
      if (second === 30) for (let i = 0; i < 1000; i++) bursty.record(30_000 + i / 2, 10);
    }
    expect(steady.average(60_000, 60_000)).toBeCloseTo((59 + 10) / 60);
    expect(bursty.average(60_000, 60_000)).toBeCloseTo(steady.average(60_000, 60_000), 1);
  });

  test('averages use only the seconds inside the window', () => {
    const window = new ConcurrencyWindow(60_000);
    window.record(1000, 100);
    window.record(55_000, 2);
    window.record(60_000, 4);
    expect(window.average(60_000, 6_000)).toBe(3);
    expect(window.average(60_000, 58_500)).toBe(3);
    expect(window.average(60_000, 60_000)).toBeCloseTo(106 / 3);
    expect(new ConcurrencyWindow(60_000).average(60_000, 6_000)).toBe(0);
  });

  test('old seconds are let go: the window keeps what its longest average needs', () => {
    const window = new ConcurrencyWindow(10_000);
    for (let second = 1; second <= 1000; second++) window.record(second * 1000, second);
    expect(window.average(1_000_000, 10_000)).toBeCloseTo((991 + 1000) / 2);
    expect((window as unknown as { buckets: unknown[] }).buckets.length).toBeLessThanOrEqual(11);
  });
});

import { describe, expect, test } from '@jest/globals';
import { AdapterStats } from '../../adapter/src/stats.js';

describe('AdapterStats', () => {
  test('the in-flight integral over an interval gives the average concurrency in it', () => {
    let now = 0;
    const stats = new AdapterStats(() => now);
    stats.started(); // 1 in flight from t=0
    now = 100;
    stats.started(); // 2 in flight from t=100
    now = 300;
    stats.finished(300);
    now = 400;
    stats.finished(300);
    const snapshot = stats.snapshot(0) as { inflightIntegralMs: number; requests: number; inflight: number };
    // 1×100 + 2×200 + 1×100 = 600 ms·requests over 400 ms: 1.5 on average
    expect(snapshot.inflightIntegralMs).toBe(600);
    expect(snapshot.requests).toBe(2);
    expect(snapshot.inflight).toBe(0);
  });

  test('latency percentiles come from the recent window', () => {
    const stats = new AdapterStats(() => 0);
    for (let ms = 1; ms <= 100; ms++) {
      stats.started();
      stats.finished(ms);
    }
    expect((stats.snapshot(0) as { latencyMs: unknown }).latencyMs).toEqual({
      p50: 51,
      p99: 100,
      samples: 100,
    });
  });
});

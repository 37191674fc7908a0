import { describe, expect, test } from '@jest/globals';
import { InflightLimiter, type Release } from '../../adapter/src/inflight-limiter.js';

describe('InflightLimiter', () => {
  test('no limit: every acquire succeeds at once', () => {
    const limiter = new InflightLimiter(0, 0);
    for (let i = 0; i < 100; i++) expect(typeof limiter.acquire()).toBe('function');
    expect(limiter.inflight).toBe(100);
  });

  test('holders beyond the limit queue in order, beyond the queue they are refused', async () => {
    const limiter = new InflightLimiter(1, 2);
    const first = limiter.acquire() as Release;
    const second = limiter.acquire() as Promise<Release>;
    const third = limiter.acquire() as Promise<Release>;
    expect(limiter.acquire()).toBeUndefined();
    expect(limiter.queued).toBe(2);

    const order: string[] = [];
    void second.then(() => order.push('second'));
    void third.then(() => order.push('third'));
    first();
    const secondRelease = await second;
    expect(order).toEqual(['second']);
    expect(limiter.inflight).toBe(1);
    secondRelease();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(limiter.inflight).toBe(0);
  });

  test('releasing twice frees one slot only', () => {
    const limiter = new InflightLimiter(2, 0);
    const release = limiter.acquire() as Release;
    release();
    release();
    expect(limiter.inflight).toBe(0);
    limiter.acquire();
    limiter.acquire();
    expect(limiter.acquire()).toBeUndefined();
  });

  test('a waiter whose caller left is dropped from the queue', async () => {
    const limiter = new InflightLimiter(1, 1);
    const held = limiter.acquire() as Release;
    const controller = new AbortController();
    const waiting = limiter.acquire(() => controller.signal) as Promise<Release>;
    controller.abort();
    await expect(waiting).rejects.toBeDefined();
    expect(limiter.queued).toBe(0);
    held();
    expect(limiter.inflight).toBe(0);
  });
});

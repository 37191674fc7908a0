import { describe, expect, test } from '@jest/globals';
import { LogRateLimit } from '../../adapter/src/log-rate-limit.js';

describe("the app's output under a rate limit", () => {
  test('within the burst, everything passes', async () => {
    const limiter = new LogRateLimit(10, 2, () => 0);
    let out = '';
    limiter.on('data', (chunk: Buffer) => (out += chunk.toString()));
    limiter.write(Buffer.from('abc\n'));
    limiter.write(Buffer.from('defgh\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toBe('abc\ndefgh\n');
    expect(limiter.takeDropped()).toEqual({ lines: 0, bytes: 0 });
  });

  test('past it, whole lines are kept up to the budget and the rest is counted, then the budget refills', async () => {
    let now = 0;
    const limiter = new LogRateLimit(10, 1, () => now);
    let out = '';
    limiter.on('data', (chunk: Buffer) => (out += chunk.toString()));
    limiter.write(Buffer.from('aaaa\nbbbb\ncccc\ndddd\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toBe('aaaa\nbbbb\n');
    expect(limiter.takeDropped()).toEqual({ lines: 2, bytes: 10 });
    expect(limiter.takeDropped()).toEqual({ lines: 0, bytes: 0 });
    now += 1000;
    limiter.write(Buffer.from('eeee\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toBe('aaaa\nbbbb\neeee\n');
  });
});

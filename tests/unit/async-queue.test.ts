import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { InvocationStore } from '../../runner/src/async/invocation-store.js';
import { backoffMs, nextStep } from '../../runner/src/async/retry-policy.js';
import { tempDir } from '../helpers/temp-dir.js';

const config = { maxRetries: 2, maxEventAgeMs: 60_000 };

describe('what follows an attempt', () => {
  test('success ends it; a malformed event fails at once', () => {
    expect(
      nextStep({ outcome: 'succeeded', attempts: 1, functionErrors: 0, acceptedAt: 0, now: 10, config }),
    ).toEqual({
      state: 'succeeded',
    });
    expect(
      nextStep({ outcome: 'rejected', attempts: 1, functionErrors: 0, acceptedAt: 0, now: 10, config }),
    ).toEqual({
      state: 'failed',
    });
  });

  test('function errors are retried maxRetries times with backoff, then fail', () => {
    const after = (functionErrors: number) =>
      nextStep({
        outcome: 'function-error',
        attempts: functionErrors,
        functionErrors,
        acceptedAt: 0,
        now: 1000,
        config,
      });
    expect(after(1)).toEqual({ state: 'retrying', at: 1500 });
    expect(after(2)).toEqual({ state: 'retrying', at: 2000 });
    expect(after(3)).toEqual({ state: 'failed' });
  });

  test('system errors are retried, 0.5 s doubling to 5 min, until the event is too old: then it expires', () => {
    expect([1, 2, 3, 4, 20].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 300_000]);
    const system = (attempts: number, now: number) =>
      nextStep({ outcome: 'system-error', attempts, functionErrors: 0, acceptedAt: 0, now, config });
    expect(system(1, 1000)).toEqual({ state: 'retrying', at: 1500 });
    expect(system(3, 50_000)).toEqual({ state: 'retrying', at: 52_000 });
    expect(system(3, 59_000)).toEqual({ state: 'expired' });
  });
});

describe('the durable queue', () => {
  async function store(): Promise<InvocationStore> {
    return new InvocationStore(join(tempDir('queue'), 'invocations.db'));
  }
  const event = (id: string, fn = 'shop') => ({
    id,
    function: fn,
    contentType: 'application/json',
    payload: Buffer.from(`{"n":"${id}"}`),
  });

  test('an id stored twice is stored once; the second gets the first record, marked duplicate', async () => {
    const queue = await store();
    const [first] = queue.enqueue([event('a')], 100);
    const [again] = queue.enqueue([{ ...event('a'), payload: Buffer.from('other') }], 200);
    expect(first!.duplicate).toBe(false);
    expect(again!.duplicate).toBe(true);
    expect(again!.invocation).toMatchObject({ id: 'a', acceptedAt: 100, state: 'queued' });
    expect(again!.invocation.payload.toString()).toBe('{"n":"a"}');
  });

  test('due events are claimed oldest first, per function, up to a limit', async () => {
    const queue = await store();
    queue.enqueue([event('1'), event('2'), event('x', 'blog'), event('3')], 100);
    expect(queue.claimDue('shop', 100, 2).map((item) => item.id)).toEqual(['1', '2']);
    expect(queue.claimDue('shop', 100, 5).map((item) => item.id)).toEqual(['3']);
    expect(queue.get('1')!.state).toBe('running');
    expect(queue.pending('shop')).toBe(3);
  });

  test('a retry waits for its time; after a restart, running events go back to the queue with an attempt', async () => {
    const queue = await store();
    queue.enqueue([event('r'), event('s')], 0);
    const [claimed] = queue.claimDue('shop', 0, 1);
    queue.finishAttempt(
      claimed!.id,
      { at: 0, durationMs: 5, instance: 'i1', status: 500, outcome: 'function-error' },
      { state: 'retrying', at: 1000, error: 'boom' },
      5,
    );
    expect(queue.claimDue('shop', 999, 5).map((item) => item.id)).toEqual(['s']);
    expect(queue.nextDue('shop')).toBe(1000);
    expect(queue.requeueRunning(2000)).toBe(1);
    expect(queue.get('s')).toMatchObject({
      state: 'queued',
      attempts: [{ status: 'RUNNER_RESTARTED', outcome: 'system-error' }],
    });
    expect(queue.claimDue('shop', 2000, 5).map((item) => item.id)).toEqual(['r', 's']);
  });

  test('finished events are pruned by age and by count; events not finished never are', async () => {
    const queue = await store();
    queue.enqueue([event('old'), event('a'), event('b'), event('c'), event('waiting')], 0);
    const finish = (id: string, at: number) => {
      queue.claimDue('shop', at, 0);
      queue.finishAttempt(
        id,
        { at, durationMs: 1, instance: 'i', status: 200, outcome: 'succeeded' },
        { state: 'succeeded' },
        at,
      );
    };
    finish('old', 10);
    for (const id of ['a', 'b', 'c']) finish(id, 5_000);
    expect(queue.prune(6_000, { maxAgeMs: 2_000, keep: 2 })).toBe(2); // 'old' by age, 'a' beyond the newest 2
    expect(['old', 'a', 'b', 'c', 'waiting'].map((id) => queue.get(id)?.state ?? 'gone')).toEqual([
      'gone',
      'gone',
      'succeeded',
      'succeeded',
      'queued',
    ]);
  });
});

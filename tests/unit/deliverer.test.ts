import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { Deliverer, MAX_DELIVERY_ATTEMPTS } from '../../runner/src/async/deliverer.js';
import { GroupCommit } from '../../runner/src/async/group-commit.js';
import { InvocationStore } from '../../runner/src/async/invocation-store.js';
import { tempDir } from '../helpers/temp-dir.js';

class ManualClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

async function setup(answer: () => number) {
  const store = new InvocationStore(join(tempDir('deliver'), 'invocations.db'));
  const clock = new ManualClock();
  const posted: Array<{ url: string; record: Record<string, unknown> }> = [];
  const deliverer = new Deliverer({
    store,
    commit: new GroupCommit(store, clock),
    clock,
    log: () => {},
    kick: () => {},
    post: async (url, body) => {
      posted.push({ url, record: JSON.parse(body) as Record<string, unknown> });
      return answer();
    },
  });
  store.enqueue(
    [{ id: 'e1', function: 'shop', contentType: 'application/json', payload: Buffer.from('{"n":1}') }],
    clock.t,
  );
  store.claimDue('shop', clock.t, 1);
  store.finishAttempt(
    'e1',
    { at: clock.t, durationMs: 3, instance: 'i1', status: 200, outcome: 'succeeded' },
    { state: 'succeeded', result: '{"ok":true}', destination: 'http://127.0.0.1:1/hook' },
    clock.t,
  );
  /** Runs every delivery due now to its end. */
  const deliverDue = async () => {
    deliverer.kick();
    for (let i = 0; i < 100 && store.deliveriesDue(clock.t, 1).length > 0 && posted.length === 0; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { store, clock, posted, deliverer, deliverDue };
}

describe('destinations', () => {
  test('the record of a finished event is POSTed once: the event, its answer and its attempts', async () => {
    const { store, posted, deliverDue, deliverer } = await setup(() => 204);
    await deliverDue();
    await new Promise((resolve) => setImmediate(resolve));
    expect(posted).toHaveLength(1);
    expect(posted[0]!.record).toMatchObject({
      invocationId: 'e1',
      state: 'succeeded',
      request: { contentType: 'application/json', body: '{"n":1}', isBase64Encoded: false },
      response: '{"ok":true}',
      attempts: [expect.objectContaining({ instance: 'i1', status: 200 })],
    });
    expect(store.get('e1')).toMatchObject({ delivery: 'delivered', deliveryAttempts: 1 });
    deliverer.stop();
  });

  test('a destination that keeps failing is retried with backoff, then dead-lettered; redeliver owes it again', async () => {
    let status = 500;
    const { store, clock, posted, deliverer } = await setup(() => status);
    for (let attempt = 1; attempt <= MAX_DELIVERY_ATTEMPTS; attempt++) {
      const before = posted.length;
      deliverer.kick();
      for (let i = 0; i < 100 && posted.length === before; i++)
        await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      const record = store.get('e1')!;
      if (attempt < MAX_DELIVERY_ATTEMPTS) {
        expect(record).toMatchObject({ delivery: 'owed', deliveryAttempts: attempt });
        clock.t += 5 * 60_000; // past any backoff
      }
    }
    expect(store.get('e1')).toMatchObject({
      delivery: 'dead-letter',
      deliveryAttempts: MAX_DELIVERY_ATTEMPTS,
      deliveryError: 'http://127.0.0.1:1/hook answered 500',
    });
    status = 200;
    expect(store.redeliver('e1', clock.t)).toBe(true);
    deliverer.kick();
    for (let i = 0; i < 100 && store.get('e1')!.delivery !== 'delivered'; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(store.get('e1')).toMatchObject({ delivery: 'delivered', deliveryAttempts: 1 });
    deliverer.stop();
  });

  test('a record still owed is never pruned', async () => {
    const { store, clock } = await setup(() => 500);
    expect(store.prune(clock.t + 1e9, { maxAgeMs: 0, keep: 0 })).toBe(0);
    expect(store.get('e1')!.delivery).toBe('owed');
  });
});

import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { Dispatcher } from '../../runner/src/async/dispatcher.js';
import type { AttemptResult } from '../../runner/src/async/invoke-instance.js';
import { InvocationStore, type Invocation } from '../../runner/src/async/invocation-store.js';
import type { FunctionRegistry } from '../../runner/src/control/function-registry.js';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { tempDir } from '../helpers/temp-dir.js';

const shop = {
  spec: { name: 'shop', async: { concurrency: 1, maxRetries: 0, maxEventAgeMs: 60_000 } },
} as unknown as FunctionRuntime;

const registry = {
  find: (name: string) => (name === 'shop' ? shop : undefined),
  names: () => ['shop'],
} as unknown as FunctionRegistry;

/** A clock that moves on by 1 ms each time it is read, as a busy machine's does between two reads. */
function tickingClock(start: number) {
  let now = start;
  return { now: () => now++ };
}

async function queue(): Promise<InvocationStore> {
  return new InvocationStore(join(tempDir('dispatch'), 'invocations.db'));
}

function dispatcherOver(
  store: InvocationStore,
  clock: { now(): number },
  attempt: (invocation: Invocation) => AttemptResult,
): Dispatcher {
  return new Dispatcher({
    store,
    registry,
    clock,
    log: () => {},
    attempt: async (_fn, invocation) => attempt(invocation),
  });
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('the dispatcher', () => {
  test('an event that falls due between the claim and the planning of the next wake still runs', async () => {
    const store = await queue();
    const clock = tickingClock(1000);
    // Due 1 ms after the claim is made: the clock's next read.
    store.enqueue(
      [{ id: 'e1', function: 'shop', contentType: 'text/plain', payload: Buffer.from('x') }],
      1001,
    );
    let ran!: (invocation: Invocation) => void;
    const attempted = new Promise<Invocation>((resolve) => (ran = resolve));
    const dispatcher = dispatcherOver(store, clock, (invocation) => {
      ran(invocation);
      return { outcome: 'succeeded', instance: 'i1', status: 200, result: 'ok' };
    });
    dispatcher.kick('shop');
    expect((await within(2_000, 'the attempt', attempted)).id).toBe('e1');
    await dispatcher.stop();
    expect(store.get('e1')!.state).toBe('succeeded');
  });

  test('a full disk: a claim or a record refused is tried again, and the event ends as it ran', async () => {
    const store = await queue();
    store.enqueue([{ id: 'e1', function: 'shop', contentType: 'text/plain', payload: Buffer.from('x') }], 0);
    const full = () => Object.assign(new Error('database or disk is full'), { errcode: 13 });
    const refusals = { claimDue: 1, finishAttempt: 1 };
    const flaky = Object.assign(Object.create(store) as InvocationStore, {
      claimDue: (...args: Parameters<InvocationStore['claimDue']>) => {
        if (refusals.claimDue-- > 0) throw full();
        return store.claimDue(...args);
      },
      finishAttempt: (...args: Parameters<InvocationStore['finishAttempt']>) => {
        if (refusals.finishAttempt-- > 0) throw full();
        store.finishAttempt(...args);
      },
    });
    let ended!: () => void;
    const recorded = new Promise<void>((resolve) => (ended = resolve));
    const dispatcher = dispatcherOver(flaky, { now: () => Date.now() }, () => ({
      outcome: 'succeeded',
      instance: 'i1',
      status: 200,
      result: 'ok',
    }));
    dispatcher.onFinished(() => ended());
    dispatcher.kick('shop'); // must not throw
    await within(5_000, 'the attempt recorded', recorded);
    await dispatcher.stop();
    expect(store.get('e1')).toMatchObject({ state: 'succeeded', result: 'ok' });
    expect(refusals.claimDue).toBeLessThan(0); // refused once, then claimed
    expect(refusals.finishAttempt).toBe(-1); // refused once, then stored once
  });

  test('a retry runs at its time, and an event held back by the concurrency runs when the one before ends', async () => {
    const store = await queue();
    const clock = { now: () => Date.now() };
    const now = clock.now();
    store.enqueue(
      ['a', 'b'].map((id) => ({ id, function: 'shop', contentType: 'text/plain', payload: Buffer.from(id) })),
      now,
    );
    const order: string[] = [];
    let done!: () => void;
    const allDone = new Promise<void>((resolve) => (done = resolve));
    const dispatcher = dispatcherOver(store, clock, (invocation) => {
      order.push(invocation.id);
      if (order.length === 3) done();
      // The first attempt of `a` is a system error: it is tried again after the backoff (0.5 s).
      return invocation.id === 'a' && order.length === 1
        ? { outcome: 'system-error', instance: null, status: 'NO_INSTANCE' }
        : { outcome: 'succeeded', instance: 'i1', status: 200, result: 'ok' };
    });
    dispatcher.kick('shop');
    await within(3_000, 'three attempts', allDone);
    await dispatcher.stop();
    expect(order).toEqual(['a', 'b', 'a']);
    expect(['a', 'b'].map((id) => store.get(id)!.state)).toEqual(['succeeded', 'succeeded']);
  });
});

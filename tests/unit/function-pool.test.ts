import { describe, expect, test } from '@jest/globals';
import { FunctionPool, type PoolOptions } from '../../runner/src/gateway/function-pool.js';
import { moveTo, type Instance } from '../../runner/src/instances/instance.js';

function instance(id: string, overrides: Partial<Instance> = {}): Instance {
  return {
    id,
    name: id,
    fn: 'shop',
    revision: 1,
    address: `http://${id}`,
    state: 'active',
    startedAt: 0,
    stateSince: 0,
    lastActiveAt: 0,
    inflight: 0,
    edgeSessions: 0,
    edgeTotal: 0,
    spec: { cpus: 1, memory: 1 },
    ...overrides,
  };
}

let demandWhenAsked: number[] = [];

function pool(overrides: Partial<PoolOptions> = {}) {
  const woken: string[] = [];
  let asked = 0;
  demandWhenAsked = [];
  const p = new FunctionPool({
    fn: 'shop',
    concurrency: 2,
    maxWaiting: 2,
    maxWaitMs: 1000,
    now: () => 42,
    onNeedCapacity: () => {
      asked += 1;
      demandWhenAsked.push(p.demand);
    },
    wake: async (inst) => {
      woken.push(inst.id);
      moveTo(inst, 'active', 0);
    },
    ...overrides,
  });
  return { pool: p, woken, asked: () => asked };
}

describe('FunctionPool', () => {
  test('balances to the least loaded instance within its concurrency', async () => {
    const { pool: p } = pool();
    const a = instance('a', { inflight: 1 });
    const b = instance('b');
    p.add(a);
    p.add(b);
    expect((await p.acquire()).id).toBe('b');
    expect((await p.acquire()).id).toBe('a');
    expect((await p.acquire()).id).toBe('b');
    expect([a.inflight, b.inflight]).toEqual([2, 2]);
  });

  test('a reserved instance is woken once before it serves, however many requests come', async () => {
    const { pool: p, woken } = pool();
    p.add(instance('a', { state: 'reserved' }));
    const served = await Promise.all([p.acquire(), p.acquire()]);
    expect(served.map((inst) => inst.id)).toEqual(['a', 'a']);
    expect(woken).toEqual(['a']);
  });

  test('a request the activator holds while an active instance is not up at the edge yet counts as demand', async () => {
    const { pool: p } = pool();
    p.add(instance('a', { inflight: 2 }));
    let edgeUp!: () => void;
    const holding = p.awaitEdge(new Promise<void>((resolve) => (edgeUp = resolve)));
    expect(p.demand).toBe(3);
    edgeUp();
    await holding;
    expect(p.demand).toBe(2);
  });

  test('with no room, requests wait in the activator, capacity is asked for, and they go when room appears', async () => {
    const { pool: p, asked } = pool();
    const a = instance('a', { inflight: 2 });
    p.add(a);
    const waiting = p.acquire();
    expect(p.waitingCount).toBe(1);
    expect(asked()).toBe(1);
    expect(demandWhenAsked).toEqual([3]);
    expect(p.demand).toBe(3);
    p.release(a);
    expect((await waiting).id).toBe('a');
    expect(a.inflight).toBe(2);
  });

  test('a new instance serves the requests held for it', async () => {
    const { pool: p } = pool();
    const held = p.acquire();
    p.add(instance('fresh'));
    expect((await held).id).toBe('fresh');
  });

  test('beyond the activator queue, 503 NO_CAPACITY at once', async () => {
    const { pool: p } = pool({ maxWaiting: 1 });
    void p.acquire().catch(() => undefined);
    await expect(p.acquire()).rejects.toMatchObject({ code: 'NO_CAPACITY', status: 503 });
    p.rejectAllWaiting(new Error('stop'));
  });

  test('a held request gives up after the wait limit with a clear error', async () => {
    const { pool: p } = pool({ maxWaitMs: 20 });
    await expect(p.acquire()).rejects.toMatchObject({ code: 'ACTIVATION_TIMEOUT' });
    expect(p.waitingCount).toBe(0);
  });

  test('a held request whose client went away leaves the queue and the demand at once, making room for another', async () => {
    const { pool: p } = pool({ maxWaiting: 1 });
    const client = new AbortController();
    const held = p.acquire(client.signal);
    expect(p.demand).toBe(1);
    client.abort();
    await expect(held).rejects.toMatchObject({ code: 'CLIENT_GONE', status: 499 });
    expect(p.waitingCount).toBe(0);
    expect(p.demand).toBe(0);
    const next = p.acquire();
    expect(p.waitingCount).toBe(1);
    p.add(instance('fresh'));
    expect((await next).id).toBe('fresh');
    await expect(p.acquire(AbortSignal.abort())).resolves.toMatchObject({ id: 'fresh' });
  });

  test('starting and draining instances get no requests', async () => {
    const { pool: p } = pool({ maxWaitMs: 20 });
    p.add(instance('s', { state: 'starting' }));
    p.add(instance('d', { state: 'draining' }));
    await expect(p.acquire()).rejects.toMatchObject({ code: 'ACTIVATION_TIMEOUT' });
  });

  test('while the function may not start instances, a request with no room is refused at once, not held', async () => {
    let backoff: Error | undefined = new Error('function shop keeps crashing');
    const { pool: p, asked } = pool({ unavailable: () => backoff });
    const busy = instance('a', { inflight: 2 });
    p.add(busy);
    await expect(p.acquire()).rejects.toThrow('keeps crashing');
    expect(asked()).toBe(0);
    expect(p.waitingCount).toBe(0);
    // An instance with room still serves during a backoff; once it ends, requests wait again.
    busy.inflight = 1;
    expect((await p.acquire()).id).toBe('a');
    backoff = undefined;
    const waiting = p.acquire();
    expect(p.waitingCount).toBe(1);
    p.release(busy);
    expect((await waiting).id).toBe('a');
  });

  test('a removed instance is handed no request, and requests wait for another', async () => {
    const { pool: p } = pool();
    const dead = instance('dead');
    p.add(dead);
    p.remove(dead);
    expect(p.has(dead)).toBe(false);
    const waiting = p.acquire();
    p.add(instance('replacement'));
    expect((await waiting).id).toBe('replacement');
  });
});

import { describe, expect, test } from '@jest/globals';
import { applyEdgeStats } from '../../runner/src/control/edge-demand.js';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import type { BackendStats } from '../../runner/src/edge/edge-stats.js';
import type { Instance } from '../../runner/src/instances/instance.js';

function instance(name: string, state: Instance['state'] = 'active'): Instance {
  return {
    id: name,
    name,
    fn: 'shop',
    revision: 1,
    address: 'http://10.0.0.2:9000',
    state,
    stateSince: 0,
    startedAt: 0,
    lastActiveAt: 0,
    inflight: 0,
    edgeSessions: 0,
    edgeTotal: 0,
    spec: { cpus: 1, memory: 1 },
  };
}

function fn(instances: Instance[]): FunctionRuntime {
  return {
    spec: { name: 'shop', timeoutMs: 2000 },
    pool: { instances, edgeQueued: 0 },
  } as unknown as FunctionRuntime;
}

const server = (sessions: number, total: number, status = 'UP', answered = 0, failed = 0) => ({
  sessions,
  queued: 0,
  total,
  status,
  weight: 1,
  address: '10.0.0.1:3000',
  answered,
  failed,
});

function backend(servers: Array<[string, ReturnType<typeof server>]>): Map<string, BackendStats> {
  return new Map([['shop', { queued: 0, servers: new Map(servers) }]]);
}

describe('applyEdgeStats', () => {
  test('sessions and the queue become demand; an instance is in use while it has sessions or its total grew', () => {
    const busy = instance('busy');
    const used = instance('used');
    const idle = instance('idle');
    idle.edgeTotal = 7;
    const shop = fn([busy, used, idle]);
    const stats = new Map<string, BackendStats>([
      [
        'shop',
        {
          queued: 3,
          servers: new Map([
            ['busy', server(2, 5)],
            ['used', server(0, 4)],
            ['idle', server(0, 7)],
          ]),
        },
      ],
    ]);
    expect(applyEdgeStats([shop], stats, 1000)).toEqual({ down: [], silent: [] });
    expect(shop.pool.edgeQueued).toBe(3);
    expect([busy.edgeSessions, used.edgeSessions, idle.edgeSessions]).toEqual([2, 0, 0]);
    expect([busy.lastActiveAt, used.lastActiveAt, idle.lastActiveAt]).toEqual([1000, 1000, 0]);
  });

  test('an active instance the edge found down is returned; a reserved one in maintenance is not', () => {
    const dead = instance('dead');
    const reserved = instance('reserved', 'reserved');
    const shop = fn([dead, reserved]);
    const stats = new Map<string, BackendStats>([
      [
        'shop',
        {
          queued: 0,
          servers: new Map([
            ['dead', server(0, 1, 'DOWN')],
            ['reserved', server(0, 1, 'DOWN')],
          ]),
        },
      ],
    ]);
    const { down } = applyEdgeStats([shop], stats, 1);
    expect(down.map(({ instance }) => instance.name)).toEqual(['dead']);
  });

  test('an active instance whose request failed after no answer for a whole timeout is a suspect; one still answering is not', () => {
    const hung = instance('hung');
    const slow = instance('slow');
    const shop = fn([hung, slow]);
    const sample = (at: number, hungCounts: [number, number], slowCounts: [number, number]) =>
      applyEdgeStats(
        [shop],
        backend([
          ['hung', server(1, 9, 'UP', ...hungCounts)],
          ['slow', server(1, 9, 'UP', ...slowCounts)],
        ]),
        at,
      ).silent.map(({ instance }) => instance.name);
    expect(sample(0, [5, 0], [5, 0])).toEqual([]);
    // Both go quiet; at 2.5 s a request of each times out, but slow began an answer in the same second.
    expect(sample(1000, [5, 0], [5, 0])).toEqual([]);
    expect(sample(2000, [5, 0], [5, 0])).toEqual([]);
    expect(sample(3000, [5, 1], [6, 1])).toEqual(['hung']);
    expect(hung.edgeAnswers).toMatchObject({ lastAnswerAt: 0, failed: 1 });
  });

  test('a failure within a timeout of the last answer is no suspect (the failed request may have begun before it)', () => {
    const busy = instance('busy');
    const shop = fn([busy]);
    const sample = (at: number, answered: number, failed: number) =>
      applyEdgeStats([shop], backend([['busy', server(1, 9, 'UP', answered, failed)]]), at).silent;
    expect(sample(0, 5, 0)).toEqual([]);
    expect(sample(1000, 6, 0)).toEqual([]);
    expect(sample(2000, 6, 0)).toEqual([]);
    expect(sample(3000, 6, 1)).toEqual([]);
    // The next failure, a whole timeout after the answer seen at 1 s, is.
    expect(sample(4000, 6, 2)).toHaveLength(1);
  });

  test('counts that went down (a reload) start afresh; a draining instance is never a suspect', () => {
    const reloaded = instance('reloaded');
    const draining = instance('draining', 'draining');
    const shop = fn([reloaded, draining]);
    const sample = (at: number, answered: number, failed: number) =>
      applyEdgeStats(
        [shop],
        backend([
          ['reloaded', server(1, 9, 'UP', answered, failed)],
          ['draining', server(1, 9, 'UP', answered, failed)],
        ]),
        at,
      ).silent;
    expect(sample(0, 50, 3)).toEqual([]);
    expect(sample(5000, 0, 0)).toEqual([]);
    expect(sample(6000, 0, 1)).toEqual([]);
    expect(sample(7000, 0, 1)).toEqual([]);
    expect(sample(8000, 0, 2).map(({ instance }) => instance.name)).toEqual(['reloaded']);
  });
});

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
  return { spec: { name: 'shop' }, pool: { instances, edgeQueued: 0 } } as unknown as FunctionRuntime;
}

const server = (sessions: number, total: number, status = 'UP') => ({
  sessions,
  queued: 0,
  total,
  status,
  address: '10.0.0.1:3000',
});

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
    expect(applyEdgeStats([shop], stats, 1000)).toEqual([]);
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
    expect(applyEdgeStats([shop], stats, 1).map(({ instance }) => instance.name)).toEqual(['dead']);
  });
});

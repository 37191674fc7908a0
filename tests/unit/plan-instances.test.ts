import { describe, expect, test } from '@jest/globals';
import {
  defaultLifecycleConfig,
  planInstances,
  type InstanceView,
  type LifecycleConfig,
} from '../../runner/src/autoscaler/plan-instances.js';

const config: LifecycleConfig = {
  minScale: 1,
  reserveAfterMs: 30_000,
  freezeAfterMs: 60_000,
  zeroAfterMs: 120_000,
};

function instance(id: string, overrides: Partial<InstanceView> = {}): InstanceView {
  return { id, state: 'active', inflight: 0, lastActiveAt: 0, stateSince: 0, ...overrides };
}

describe('planInstances', () => {
  test('starts what the autoscaler asks for beyond what serves', () => {
    expect(
      planInstances({
        instances: [instance('a', { inflight: 3, lastActiveAt: 1000 })],
        desired: 3,
        now: 1000,
        config,
      }),
    ).toEqual([{ kind: 'start', count: 2 }]);
  });

  test('containers still being created count, so a slow start is not started twice', () => {
    expect(planInstances({ instances: [], pendingStarts: 1, desired: 1, now: 0, config })).toEqual([]);
    expect(planInstances({ instances: [], pendingStarts: 1, desired: 3, now: 0, config })).toEqual([
      { kind: 'start', count: 2 },
    ]);
  });

  test('drains the surplus: those not ready yet first, then those idle longest', () => {
    const instances = [
      instance('busy', { inflight: 2, lastActiveAt: 10_000 }),
      instance('idle-long', { lastActiveAt: 1_000 }),
      instance('idle-short', { lastActiveAt: 9_000 }),
      instance('new', { state: 'starting', lastActiveAt: 0 }),
    ];
    expect(planInstances({ instances, desired: 2, now: 10_000, config })).toEqual([
      { kind: 'drain', id: 'new' },
      { kind: 'drain', id: 'idle-long' },
    ]);
  });

  test('a busy ready instance is kept over one still starting: there is always one to serve', () => {
    const instances = [
      instance('busy', { inflight: 5, lastActiveAt: 10_000 }),
      instance('new', { state: 'starting', lastActiveAt: 0 }),
    ];
    expect(planInstances({ instances, desired: 1, now: 10_000, config })).toEqual([
      { kind: 'drain', id: 'new' },
    ]);
  });

  test('draining instances are not counted as serving', () => {
    const instances = [instance('a', { lastActiveAt: 5000 }), instance('b', { state: 'draining' })];
    expect(planInstances({ instances, desired: 2, now: 5000, config })).toEqual([
      { kind: 'start', count: 1 },
    ]);
  });

  test('the last instance idle past the grace is shrunk, then frozen after the next grace', () => {
    expect(
      planInstances({ instances: [instance('a', { lastActiveAt: 0 })], desired: 1, now: 29_999, config }),
    ).toEqual([]);
    expect(
      planInstances({ instances: [instance('a', { lastActiveAt: 0 })], desired: 1, now: 30_000, config }),
    ).toEqual([{ kind: 'shrink', id: 'a' }]);
    const reserved = instance('a', { state: 'reserved', stateSince: 30_000 });
    expect(planInstances({ instances: [reserved], desired: 1, now: 89_999, config })).toEqual([]);
    expect(planInstances({ instances: [reserved], desired: 1, now: 90_000, config })).toEqual([
      { kind: 'freeze', id: 'a' },
    ]);
  });

  test('an idle instance above the minimum is drained, not shrunk', () => {
    const instances = [instance('a', { lastActiveAt: 0 }), instance('b', { lastActiveAt: 0 })];
    expect(planInstances({ instances, desired: 1, now: 40_000, config })).toEqual([
      { kind: 'drain', id: 'a' },
      { kind: 'shrink', id: 'b' },
    ]);
  });

  test('with a minimum of 2, both last instances become pilot lights', () => {
    const instances = [instance('a'), instance('b')];
    expect(planInstances({ instances, desired: 1, now: 40_000, config: { ...config, minScale: 2 } })).toEqual(
      [
        { kind: 'shrink', id: 'a' },
        { kind: 'shrink', id: 'b' },
      ],
    );
  });

  test('an instance with a request in flight is never idle', () => {
    expect(
      planInstances({ instances: [instance('a', { inflight: 1 })], desired: 1, now: 1e9, config }),
    ).toEqual([]);
  });

  test('with min 0 the last instance goes only after the zero grace', () => {
    const zeroConfig = { ...config, minScale: 0 };
    const reserved = instance('a', { state: 'reserved', stateSince: 30_000, lastActiveAt: 0 });
    expect(planInstances({ instances: [reserved], desired: 0, now: 119_999, config: zeroConfig })).toEqual([
      { kind: 'freeze', id: 'a' },
    ]);
    expect(planInstances({ instances: [reserved], desired: 0, now: 120_000, config: zeroConfig })).toEqual([
      { kind: 'drain', id: 'a' },
    ]);
  });

  test('defaults: reserved after 30 s idle, frozen 2 min later, zero after 5 min', () => {
    expect(defaultLifecycleConfig()).toEqual({
      minScale: 1,
      reserveAfterMs: 30_000,
      freezeAfterMs: 120_000,
      zeroAfterMs: 300_000,
    });
  });

  test('during a crash-loop backoff nothing is started, and afterwards what is missing is', () => {
    const input = { instances: [], desired: 0, config: { ...config, minScale: 1 }, holdStartsUntil: 5000 };
    expect(planInstances({ ...input, now: 4999 })).toEqual([]);
    expect(planInstances({ ...input, now: 5000 })).toEqual([{ kind: 'start', count: 1 }]);
  });

  describe('the graces mean what they say, whatever the autoscaler still remembers', () => {
    const zeroIn10s = { minScale: 0, reserveAfterMs: 30_000, freezeAfterMs: 120_000, zeroAfterMs: 10_000 };

    test('with min 0 and zeroAfter 10 s, an idle function is gone 10 s after its last request', () => {
      const instances = [instance('a', { lastActiveAt: 50_000 })];
      // The stable window still averages the last burst: the autoscaler wants one.
      expect(planInstances({ instances, desired: 1, now: 59_999, config: zeroIn10s })).toEqual([]);
      expect(planInstances({ instances, desired: 1, now: 60_000, config: zeroIn10s })).toEqual([
        { kind: 'drain', id: 'a' },
      ]);
    });

    test('at zero it stays at zero until a request waits, then starts what the autoscaler wants', () => {
      expect(planInstances({ instances: [], desired: 2, now: 0, config: zeroIn10s })).toEqual([]);
      expect(planInstances({ instances: [], desired: 2, waiting: 1, now: 0, config: zeroIn10s })).toEqual([
        { kind: 'start', count: 2 },
      ]);
    });

    test('after a burst, once no request came for reserveAfter, the surplus goes and the last is shrunk', () => {
      const instances = [
        instance('a', { lastActiveAt: 10_000 }),
        instance('b', { lastActiveAt: 9_000 }),
        instance('c', { lastActiveAt: 8_000 }),
      ];
      expect(planInstances({ instances, desired: 3, now: 39_999, config })).toEqual([]);
      expect(planInstances({ instances, desired: 3, now: 40_000, config })).toEqual([
        { kind: 'drain', id: 'c' },
        { kind: 'drain', id: 'b' },
        { kind: 'shrink', id: 'a' },
      ]);
    });

    test('a request in flight or waiting keeps the count the autoscaler asks for', () => {
      const busy = [instance('a', { inflight: 1 }), instance('b', { lastActiveAt: 0 })];
      expect(planInstances({ instances: busy, desired: 2, now: 1e6, config })).toEqual([]);
      const idle = [instance('a'), instance('b')];
      expect(planInstances({ instances: idle, desired: 2, waiting: 1, now: 1e6, config })).toEqual([]);
    });
  });
});

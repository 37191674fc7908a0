import { describe, expect, test } from '@jest/globals';
import {
  BackendPool,
  MAX_SPARES,
  SPARES_PER_SHAPE,
  type BackendShape,
} from '../../runner/src/edge/backend-pool.js';
import type { FunctionSettings } from '../../runner/src/edge/edge-config.js';

const DEFAULT_SHAPE: BackendShape = { queueTimeoutMs: 125_000, slots: 22, concurrency: 10 };

function settings(fn: string, extra: Partial<FunctionSettings> = {}): FunctionSettings {
  return {
    fn,
    revision: 1,
    timeoutMs: 300_000,
    tunnelTimeoutMs: 3600_000,
    activationWaitMs: 125_000,
    ...extra,
  };
}

function spares(pool: BackendPool): string[] {
  return pool
    .all()
    .filter((backend) => !backend.settings)
    .map((backend) => backend.name);
}

/** Gives the function's backend a slot taken by an instance. */
function occupy(pool: BackendPool, fn: string, instance: string): void {
  pool.of(fn)!.slots[0]!.instance = instance;
}

describe('the edge backend pool', () => {
  test('the first function of a shape takes a reload, which leaves spares; the next ones of that shape take a spare', () => {
    const pool = new BackendPool();
    expect(pool.place(settings('a'), DEFAULT_SHAPE, true)).toEqual({ kind: 'reload' });
    expect(spares(pool)).toHaveLength(SPARES_PER_SHAPE);
    const spare = spares(pool)[0]!;
    const placed = pool.place(settings('b'), DEFAULT_SHAPE, true);
    expect(placed).toMatchObject({ kind: 'assigned', backend: { name: spare } });
    expect(pool.of('b')!.name).toBe(spare);
    expect(pool.of('a')!.name).not.toBe(spare);
  });

  test('a redeploy that changes only settings changes the settings entry; one that changes nothing, nothing', () => {
    const pool = new BackendPool();
    pool.place(settings('a'), DEFAULT_SHAPE, true);
    expect(pool.place(settings('a'), DEFAULT_SHAPE, true)).toEqual({ kind: 'unchanged' });
    const placed = pool.place(settings('a', { revision: 2, maxBodyBytes: 1024 }), DEFAULT_SHAPE, true);
    expect(placed).toMatchObject({
      kind: 'settings',
      backend: { settings: { revision: 2, maxBodyBytes: 1024 } },
    });
    // Fewer slots than it has, or a raised concurrency, still fit.
    expect(
      pool.place(settings('a', { revision: 2, maxBodyBytes: 1024 }), { ...DEFAULT_SHAPE, slots: 4 }, true),
    ).toEqual({
      kind: 'unchanged',
    });
  });

  test('a new queue timeout or more slots than the backend has take a reload, on the same backend', () => {
    const pool = new BackendPool();
    pool.place(settings('a'), DEFAULT_SHAPE, true);
    const name = pool.of('a')!.name;
    expect(
      pool.place(settings('a', { timeoutMs: 3000 }), { ...DEFAULT_SHAPE, queueTimeoutMs: 3000 }, true),
    ).toEqual({
      kind: 'reload',
    });
    expect(
      pool.place(
        settings('a', { timeoutMs: 3000 }),
        { ...DEFAULT_SHAPE, queueTimeoutMs: 3000, slots: 40 },
        true,
      ),
    ).toEqual({
      kind: 'reload',
    });
    expect(pool.of('a')).toMatchObject({ name, queueTimeoutMs: 3000 });
    expect(pool.of('a')!.slots).toHaveLength(40);
  });

  test('a removed function no longer routes; its backend becomes a spare once its last slot is free, and serves the next function', () => {
    const pool = new BackendPool();
    pool.place(settings('a'), DEFAULT_SHAPE, true);
    pool.place(settings('b'), DEFAULT_SHAPE, true);
    pool.place(settings('c'), DEFAULT_SHAPE, true);
    expect(spares(pool)).toEqual([]);
    occupy(pool, 'b', 'b-1');
    const retired = pool.retire('b')!;
    expect(pool.of('b')).toBeUndefined();
    // Its settings stay for the requests it finishes.
    expect(retired.settings?.fn).toBe('b');
    expect(pool.releaseIfFree(retired)).toBe(false);
    retired.slots[0]!.instance = undefined;
    expect(pool.releaseIfFree(retired)).toBe(true);
    expect(pool.holding('b-1')).toBeUndefined();
    expect(pool.place(settings('d'), DEFAULT_SHAPE, true)).toMatchObject({
      kind: 'assigned',
      backend: { name: retired.name },
    });
  });

  test('a reload keeps two spares of the shape it was made for even when removals left spares of other shapes, and at most eight in all', () => {
    const pool = new BackendPool();
    // Eight shapes, each deployed and removed: their backends are spares of shapes no function has.
    for (let i = 0; i < 8; i++) {
      const fn = `old${i}`;
      pool.place(settings(fn), { ...DEFAULT_SHAPE, queueTimeoutMs: 1000 + i }, true);
      pool.releaseIfFree(pool.retire(fn)!);
    }
    const shape = { ...DEFAULT_SHAPE, queueTimeoutMs: 4000 };
    expect(pool.place(settings('new'), shape, true)).toEqual({ kind: 'reload' });
    const left = pool.all().filter((backend) => !backend.settings);
    expect(left).toHaveLength(SPARES_PER_SHAPE);
    expect(left.every((backend) => backend.queueTimeoutMs === 4000)).toBe(true);
    // Many shapes in use: never more than MAX_SPARES.
    for (let i = 0; i < 10; i++)
      pool.place(settings(`f${i}`), { ...DEFAULT_SHAPE, queueTimeoutMs: 5000 + i }, true);
    expect(spares(pool).length).toBeLessThanOrEqual(MAX_SPARES);
    // The shape just asked for comes first.
    pool.place(settings('last'), { ...DEFAULT_SHAPE, queueTimeoutMs: 9999 }, true);
    expect(pool.all().filter((backend) => !backend.settings && backend.queueTimeoutMs === 9999)).toHaveLength(
      SPARES_PER_SHAPE,
    );
  });

  test('before the edge is open, every function keeps the backend it has in the adopted edge, whatever its shape', () => {
    const pool = new BackendPool(
      new Map([
        ['a', 'pool1'],
        ['b', 'pool4'],
        ['c', 'pool2'],
      ]),
    );
    for (const fn of ['a', 'b', 'c', 'd'])
      expect(pool.place(settings(fn), DEFAULT_SHAPE, false)).toEqual({ kind: 'staged' });
    expect(['a', 'b', 'c'].map((fn) => pool.of(fn)!.name)).toEqual(['pool1', 'pool4', 'pool2']);
    // A function new since takes a name none of them has.
    expect(pool.of('d')!.name).toBe('pool3');
    pool.opened();
    expect(spares(pool)).toHaveLength(SPARES_PER_SHAPE);
    expect(new Set(pool.all().map((backend) => backend.name)).size).toBe(6);
  });
});

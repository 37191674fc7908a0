import { afterEach, describe, expect, test } from '@jest/globals';
import { NetworkNotFoundError } from '../../engine/engine-errors.js';
import { LABEL_FUNCTION, LABEL_REVISION, LABEL_RUNNER } from '../../engine/labels.js';
import { defaultLifecycleConfig } from '../../runner/src/autoscaler/plan-instances.js';
import { FunctionRegistry } from '../../runner/src/control/function-registry.js';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { Reconciler } from '../../runner/src/control/reconciler.js';
import { noRouting, type Routing } from '../../runner/src/edge/routing.js';
import type { AdapterClient } from '../../runner/src/instances/adapter-client.js';
import type { Instance } from '../../runner/src/instances/instance.js';
import { defaultAdapterSettings, defaultAsyncSettings } from '../../runner/src/spec/deploy-request.js';
import type { FunctionSpec } from '../../runner/src/spec/function-spec.js';
import { StateStore } from '../../runner/src/store/state-store.js';
import { FakeEngine } from '../helpers/fake-engine.js';

const MiB = 1024 ** 2;
const ACTIVE = { cpus: 1, memory: 512 * MiB };
const RESERVED = { cpus: 0.05, memory: 128 * MiB };

function spec(overrides: Partial<FunctionSpec> = {}): Omit<FunctionSpec, 'revision'> {
  return {
    name: 'shop',
    image: 'shop:1',
    digest: undefined,
    imageId: 'sha256:shop',
    appPort: 3000,
    active: ACTIVE,
    reserved: RESERVED,
    concurrency: 1,
    timeoutMs: 5_000,
    startupTimeoutMs: 5_000,
    env: {},
    scaling: { minScale: 1, maxScale: 3 },
    lifecycle: { ...defaultLifecycleConfig(), minScale: 1 },
    adapter: defaultAdapterSettings(),
    async: defaultAsyncSettings(),
    ...overrides,
  };
}

/** Time the test moves by hand. */
class ManualClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Waits for a condition that the reconciler's background work makes true (never for a fixed time). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const running: Reconciler[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((reconciler) => reconciler.stop()));
});

async function setup(
  overrides: Partial<FunctionSpec> = {},
  options: {
    routing?: Routing;
    storedBefore?: (store: StateStore, engine: FakeEngine) => Promise<void>;
  } = {},
) {
  const engine = new FakeEngine();
  const clock = new ManualClock();
  const store = new StateStore(':memory:');
  await options.storedBefore?.(store, engine);
  store.putFunction(spec(overrides), clock.now());
  const registry = new FunctionRegistry();
  const frozenHooks: string[] = [];
  /** Initializer failures to come, one per call. */
  const initFailures: string[] = [];
  const adapter: AdapterClient = {
    waitReady: async () => ({ ready: true, ms: 5, direct: true }),
    health: async () => ({ healthy: true }),
    appAnswers: async () => 'answers',
    initialize: async () => {
      const reason = initFailures.shift();
      return reason ? { ok: false, code: 'INITIALIZER_FAILED', reason } : { ok: true, ms: 1 };
    },
    preFreeze: async (instance) => void frozenHooks.push(instance.name),
    memoryInUse: async () => 64 * MiB,
  };
  const reconciler = new Reconciler({
    engine,
    runtime: {
      dir: '/opt/pilotlight-runtime',
      digest: 'test',
      files: [],
      entrypoint: ['/opt/pilotlight/launch', '--'],
      launcher: true,
    },
    runnerId: 'r1',
    store,
    registry,
    clock,
    log: () => {},
    bootCpus: 2,
    adapter,
    tickMs: 0,
    sweepMs: 3_600_000,
    ...(options.routing ? { routing: options.routing } : {}),
  });
  running.push(reconciler);
  await reconciler.start();
  const fn = registry.get('shop');
  /** One tick at the current time, and everything it set going. */
  const tick = async (): Promise<void> => {
    reconciler.tick();
    await reconciler.settled();
  };
  const events = (action: string) => store.instanceEvents('shop').filter((event) => event.action === action);
  /** The one instance started, left idle past the reserve and the freeze graces. */
  const idleUntilFrozen = async (): Promise<Instance> => {
    await tick();
    const instance = only(fn);
    for (const grace of [fn.spec.lifecycle.reserveAfterMs, fn.spec.lifecycle.freezeAfterMs]) {
      clock.advance(grace);
      await tick();
    }
    return instance;
  };
  return {
    engine,
    clock,
    store,
    registry,
    reconciler,
    fn,
    tick,
    events,
    frozenHooks,
    idleUntilFrozen,
    initFailures,
  };
}

function only(fn: FunctionRuntime): Instance {
  expect(fn.pool.instances).toHaveLength(1);
  return fn.pool.instances[0]!;
}

describe('the reconciler against a fake engine and a hand-moved clock', () => {
  test('scale-out: the minimum is started, boosted while it starts, then given its active spec', async () => {
    const { engine, fn, tick } = await setup({ scaling: { minScale: 2, maxScale: 3 } });
    await tick();
    expect(fn.pool.instances.map((instance) => instance.state)).toEqual(['active', 'active']);
    const created = engine.byLabel(LABEL_FUNCTION, 'shop');
    expect(created).toHaveLength(2);
    for (const container of created) {
      expect(container.running).toBe(true);
      expect(container.resources).toEqual(ACTIVE); // the boost (2 CPUs) ended once it was ready
    }
    expect(engine.calls.filter((call) => call.method === 'update')).toEqual([
      expect.objectContaining({ resources: ACTIVE }),
      expect.objectContaining({ resources: ACTIVE }),
    ]);
    for (const instance of fn.pool.instances) expect(instance.spec).toEqual(ACTIVE);
  });

  test('scale-out: requests waiting for room bring new instances, which then serve them', async () => {
    const { engine, fn, tick } = await setup();
    await tick();
    const first = await fn.pool.acquire(); // the one instance is now full (concurrency 1)
    const waiting = [fn.pool.acquire(), fn.pool.acquire()];
    await until(() => engine.byLabel(LABEL_FUNCTION, 'shop').length === 3, 'two more instances');
    const served = await Promise.all(waiting);
    expect(new Set(served.map((instance) => instance.id)).size).toBe(2);
    expect(served.map((instance) => instance.id)).not.toContain(first.id);
    expect(served.every((instance) => instance.state === 'active')).toBe(true);
    expect(fn.pool.waitingCount).toBe(0);
  });

  test('drain: instances above the new minimum are stopped and removed once idle', async () => {
    const { engine, clock, fn, tick, events } = await setup({ scaling: { minScale: 3, maxScale: 3 } });
    await tick();
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toHaveLength(3);
    fn.spec = {
      ...fn.spec,
      scaling: { ...fn.spec.scaling, minScale: 1 },
      lifecycle: { ...fn.spec.lifecycle, minScale: 1 },
    };
    // Past the stable window and the scale-down delay, the autoscaler wants one.
    for (let second = 0; second < 100; second++) {
      clock.advance(1000);
      await tick();
    }
    expect(fn.pool.instances).toHaveLength(1);
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toHaveLength(1);
    expect(events('stop')).toHaveLength(2);
    expect(engine.calls.filter((call) => call.method === 'stop')).toHaveLength(2);
  });

  test('shrink: the state turns reserved only once the engine has applied the reserved spec', async () => {
    const { engine, clock, fn, tick, events } = await setup();
    await tick();
    const instance = only(fn);
    clock.advance(fn.spec.lifecycle.reserveAfterMs);
    const release = engine.hold('update');
    const reconciling = tick();
    await until(
      () => engine.calls.some((call) => call.method === 'update' && call.resources?.cpus === RESERVED.cpus),
      'the update sent',
    );
    expect(instance.state).toBe('shrinking');
    expect(instance.spec).toEqual(ACTIVE);
    release();
    await reconciling;
    expect(instance.state).toBe('reserved');
    expect(instance.spec).toEqual(RESERVED);
    expect(engine.containers.get(instance.id)!.resources).toEqual(RESERVED);
    expect(events('shrink')).toHaveLength(1);
  });

  test('a failed update leaves the instance active at its spec, and the next tick shrinks it', async () => {
    const { engine, clock, fn, tick, events } = await setup();
    await tick();
    const instance = only(fn);
    clock.advance(fn.spec.lifecycle.reserveAfterMs);
    engine.failNext('update', Object.assign(new Error('cannot update'), { statusCode: 500 }));
    await tick();
    expect(instance.state).toBe('active');
    expect(instance.spec).toEqual(ACTIVE);
    expect(events('shrink')).toHaveLength(0);
    await tick();
    expect(instance.state).toBe('reserved');
    expect(events('shrink')).toHaveLength(1);
  });

  test('freeze: a reserved instance is paused after its pre-freeze hook', async () => {
    const { engine, events, frozenHooks, idleUntilFrozen } = await setup();
    const instance = await idleUntilFrozen();
    expect(instance.state).toBe('frozen');
    expect(engine.containers.get(instance.id)!.paused).toBe(true);
    expect(frozenHooks).toEqual([instance.name]);
    expect(events('freeze')).toHaveLength(1);
  });

  test('wake: a request to a frozen instance unpauses it and gives back the active spec first', async () => {
    const { engine, fn, events, idleUntilFrozen } = await setup();
    const instance = await idleUntilFrozen();
    const served = await fn.pool.acquire();
    expect(served).toBe(instance);
    expect(instance.state).toBe('active');
    expect(instance.spec).toEqual(ACTIVE);
    const container = engine.containers.get(instance.id)!;
    expect(container.paused).toBe(false);
    expect(container.resources).toEqual(ACTIVE);
    const order = engine.calls.slice(-2).map((call) => call.method);
    expect(order).toEqual(['unpause', 'update']);
    expect(events('wake')).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ from: 'frozen' }) }),
    ]);
  });

  test('a request arriving during a shrink waits for it, then wakes the instance', async () => {
    const { engine, clock, fn, tick } = await setup();
    await tick();
    const instance = only(fn);
    clock.advance(fn.spec.lifecycle.reserveAfterMs);
    const release = engine.hold('update');
    const reconciling = tick();
    await until(() => instance.state === 'shrinking', 'the shrink under way');
    const request = fn.pool.acquire();
    release();
    await reconciling;
    expect(await request).toBe(instance);
    expect(instance.state).toBe('active');
    expect(engine.containers.get(instance.id)!.resources).toEqual(ACTIVE);
  });

  test('a container that disappears leaves the pool at once and is replaced', async () => {
    const { engine, fn, tick, events } = await setup();
    await tick();
    const gone = only(fn);
    engine.vanish(gone.id);
    await until(() => !fn.pool.has(gone), 'the instance out of the pool');
    await until(() => fn.pool.instances.some((instance) => instance.state === 'active'), 'a replacement');
    await tick();
    const replacement = only(fn);
    expect(replacement.id).not.toBe(gone.id);
    expect(engine.containers.get(replacement.id)!.running).toBe(true);
    await until(() => events('die').length === 1, 'the death recorded');
    // A kill through the engine is someone's decision: recorded, not counted toward a crash loop.
    expect(events('die')[0]!.detail).toEqual(expect.objectContaining({ noticedBy: 'kill' }));
    expect(fn.crash.consecutive).toBe(0);
  });

  test('a start the engine refuses leaves no container and holds further starts, longer each time', async () => {
    const { engine, clock, fn, tick } = await setup();
    const creates = () => engine.calls.filter((call) => call.method === 'create').length;
    const refusal = () =>
      Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { statusCode: 500 });
    engine.failNext('start', refusal());
    await tick();
    expect(creates()).toBe(1);
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toEqual([]); // the container that did not start is gone
    await tick();
    expect(creates()).toBe(1); // held: no second attempt at once
    clock.advance(500);
    engine.failNext('create', refusal());
    await tick();
    expect(creates()).toBe(2);
    clock.advance(500);
    await tick();
    expect(creates()).toBe(2); // the second refusal in a row holds starts for 1 s
    clock.advance(500);
    await tick();
    expect(only(fn).state).toBe('active');
    expect(fn.startBackoff.failures).toBe(0);
  });

  test('a network removed behind the runner is made again when a start finds it missing', async () => {
    const { engine, fn, tick } = await setup();
    await tick();
    const [network] = [...engine.networks.keys()];
    engine.networks.delete(network!);
    const first = only(fn);
    engine.vanish(first.id);
    engine.failNext('start', new NetworkNotFoundError(network!, `network ${network} not found`));
    await until(() => fn.pool.instances.some((instance) => instance.state === 'active'), 'a replacement');
    expect(engine.networks.has(network!)).toBe(true);
    expect(engine.byLabel(LABEL_FUNCTION, 'shop').map((container) => container.running)).toEqual([true]);
  });

  test('an instance whose initializer fails never serves: it is replaced and the failure recorded', async () => {
    const { engine, fn, tick, events, initFailures } = await setup({
      adapter: { ...defaultAdapterSettings(), initializer: 'path:/warm-up' },
    });
    initFailures.push('warm-up failed: the cache is down');
    await tick();
    expect(fn.pool.instances).toHaveLength(0);
    expect(events('initializer-failed')).toEqual([
      expect.objectContaining({
        detail: expect.objectContaining({ reason: 'warm-up failed: the cache is down' }),
      }),
    ]);
    await until(() => events('die').length === 1, 'the failed start recorded');
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toHaveLength(0);
    // The first death of a healthy function is replaced at once.
    await tick();
    const replacement = only(fn);
    expect(replacement.state).toBe('active');
  });

  test('the graces mean what they say: min 0 and zeroAfter 10 s, gone 10 s after the last request', async () => {
    const { engine, clock, fn, tick } = await setup({
      scaling: { minScale: 0, maxScale: 3 },
      lifecycle: { ...defaultLifecycleConfig(), minScale: 0, zeroAfterMs: 10_000 },
    });
    const served = fn.pool.acquire(); // a request to a function at zero
    await until(() => fn.pool.instances.some((instance) => instance.state === 'active'), 'an instance');
    const instance = await served;
    clock.advance(2_000);
    fn.pool.release(instance); // the last request ends at t0 + 2 s
    for (let second = 1; second < 10; second++) {
      clock.advance(1_000);
      await tick();
    }
    expect(fn.pool.instances.length).toBeGreaterThan(0); // 9 s idle: still there
    clock.advance(1_000);
    await tick();
    expect(fn.pool.instances).toHaveLength(0);
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toHaveLength(0);
    // And it stays at zero, though the autoscaler's window still remembers the request.
    clock.advance(1_000);
    await tick();
    expect(engine.byLabel(LABEL_FUNCTION, 'shop')).toHaveLength(0);
  });
  test('a ready instance the edge cannot take is stopped, not left running untracked, and the error is thrown', async () => {
    const refusing: Routing = {
      ...noRouting,
      serve: async () => {
        throw new Error('the edge is gone');
      },
    };
    const { engine, reconciler, registry } = await setup({}, { routing: refusing });
    const second = await reconciler.startReady({ ...registry.get('shop').spec, revision: 2 });
    await expect(reconciler.activate(registry.get('shop'), second.instance)).rejects.toThrow(
      'the edge is gone',
    );
    expect(engine.containers.get(second.instance.id)).toBeUndefined();
  });

  test('after a restart, an instance of an earlier revision (a release not finished) is retired, not served', async () => {
    let earlier = '';
    const { engine, fn } = await setup(
      {},
      {
        // Revision 1 was stored and had an instance; revision 2 was stored by the release the runner died in.
        storedBefore: async (store, engine) => {
          store.putFunction(spec(), 0);
          earlier = await engine.create({
            name: 'pilotlight-shop-r1-aaaaaa',
            image: 'shop:1',
            env: {},
            labels: { [LABEL_RUNNER]: 'r1', [LABEL_FUNCTION]: 'shop', [LABEL_REVISION]: '1' },
            resources: ACTIVE,
          });
          await engine.start(earlier);
        },
      },
    );
    expect(fn.spec.revision).toBe(2);
    await until(() => !engine.containers.has(earlier), 'the earlier revision stopped');
    expect(fn.pool.instances.every((instance) => instance.revision === 2)).toBe(true);
  });
  test('after a restart, an instance left mid-start loses its start-up boost and is served', async () => {
    let boosted = '';
    const { engine, fn } = await setup(
      {},
      {
        storedBefore: async (_store, engine) => {
          boosted = await engine.create({
            name: 'pilotlight-shop-r1-bbbbbb',
            image: 'shop:1',
            env: {},
            labels: { [LABEL_RUNNER]: 'r1', [LABEL_FUNCTION]: 'shop', [LABEL_REVISION]: '1' },
            resources: { cpus: 2, memory: ACTIVE.memory },
          });
          await engine.start(boosted);
        },
      },
    );
    expect(engine.containers.get(boosted)?.resources).toEqual(ACTIVE);
    expect(fn.pool.instances.map((instance) => [instance.id, instance.state])).toEqual([[boosted, 'active']]);
  });
});

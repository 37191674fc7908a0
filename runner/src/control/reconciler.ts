import type { SecretBox } from '../store/secret-box.js';
import { mergeLines } from '../instances/merged-lines.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import type { ContainerEngine, ContainerSummary } from '../../../engine/container-engine.js';
import { sleep } from '../../../common/sleep.js';
import { LABEL_FUNCTION, LABEL_RUNNER } from '../../../engine/labels.js';
import type { AdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import type { InstanceAction } from '../autoscaler/plan-instances.js';
import { httpAdapterClient, type AdapterClient } from '../instances/adapter-client.js';
import type { Clock } from '../instances/clock.js';
import { ContainerWatch, type WatchSource } from '../instances/container-watch.js';
import { InstanceContainers } from '../instances/instance-containers.js';
import { AppNeverReadyError, InitializerFailedError } from '../instances/instance-errors.js';
import { inUse, isIn, moveTo, type Instance } from '../instances/instance.js';
import { noRouting, type Routing } from '../edge/routing.js';
import { ADAPTER_PORT, livenessProbeMs } from '../../../adapter/contract/contract.js';
import { shrinkTarget } from '../instances/shrink-target.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import type { StateStore } from '../store/state-store.js';
import { firstAccount, takeAccount, type Departure } from './instance-deaths.js';
import { FunctionRuntime } from './function-runtime.js';
import type { FunctionRegistry } from './function-registry.js';
import { KeyedLocks } from './keyed-locks.js';
import { applyEdgeStats } from './edge-demand.js';

export type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface ReconcilerDeps {
  engine: ContainerEngine;
  runtime: AdapterRuntime;
  runnerId: string;
  store: StateStore;
  registry: FunctionRegistry;
  clock: Clock;
  log: Log;
  /** CPUs an instance may use while it starts, before its active spec applies. */
  bootCpus: number;
  /** Opens the functions' sealed secrets for their instances (none in unit tests). */
  secrets?: SecretBox;
  adapter?: AdapterClient;
  /** The edge: which instances take requests straight from it (none in unit tests). */
  routing?: Routing;
  /** How often every function is reconciled; 0: only when asked (tests tick by hand). */
  tickMs?: number;
  /** How often every instance is checked against the engine's list, whatever its events said. */
  sweepMs?: number;
}

/** How long a running orphan may keep the requests the edge has open at it before it is removed anyway. */
const ORPHAN_DRAIN_MS = 30_000;

/**
 * Makes the engine match what the autoscaler and the lifecycle planner decide, one tick at a time: starts,
 * drains, shrinks, freezes and wakes instances (one engine action at a time per instance), takes back
 * running instances after a restart, and notices the ones that die.
 */
export class Reconciler {
  readonly containers: InstanceContainers;
  private readonly adapter: AdapterClient;
  private readonly routing: Routing;
  private readonly locks = new KeyedLocks();
  /** Running containers of functions no longer deployed, found by adoption: see retireOrphans. */
  private readonly orphans: ContainerSummary[] = [];
  private readonly watch: ContainerWatch;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private tickRequested = false;
  /** Engine actions under way (starts, drains, resizes, death accounts): `settled()` waits for them. */
  private readonly underway = new Set<Promise<unknown>>();
  /** Scale-outs under way: a stop or a removal waits for them, so no container is left behind. */
  private readonly starting = new Set<Promise<unknown>>();
  /** Instances already taken out as dead (a death is handled once, however many events report it). */
  private readonly dead = new Set<string>();
  /** Dead instances whose account is being taken from the engine: their containers must stay until then. */
  private readonly accounting = new Set<string>();
  /** Instances this runner is pausing, until the engine reports their pause. */
  private readonly ownPauses = new Set<string>();
  /** Instances the edge found down whose adapter is being asked why. */
  private readonly checkingDown = new Set<string>();
  /** Containers the engine reported an OOM kill in, until their death is recorded. */
  private readonly oomKilled = new Set<string>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.containers = new InstanceContainers(
      deps.engine,
      deps.runtime,
      deps.runnerId,
      deps.clock,
      deps.bootCpus,
      deps.secrets ? (sealed) => deps.secrets!.open(sealed) : undefined,
    );
    this.adapter = deps.adapter ?? httpAdapterClient(deps.clock);
    this.routing = deps.routing ?? noRouting;
    this.watch = new ContainerWatch({
      source: this.watchSource(),
      tracked: () => deps.registry.trackedIds(),
      onGone: (id, cause) => this.instanceGone(id, cause),
      onOom: (id) => this.oomKilled.add(id),
      onPaused: (id) => this.pausedOutside(id),
      onOrphan: (id) => this.track(this.removeOrphan(id)),
      log: deps.log,
      sweepMs: deps.sweepMs,
    });
  }

  /** Loads functions from the store, adopts their running instances, removes orphans, starts ticking. */
  async start(): Promise<void> {
    for (const spec of this.deps.store.listFunctions()) {
      this.deps.registry.set(this.runtimeFor(spec));
      await this.routing.declare(spec);
    }
    await this.adopt();
    await this.watch.start();
    const tickMs = this.deps.tickMs ?? 1000;
    if (tickMs > 0) this.scheduleTick(tickMs);
  }

  /** Every tickMs: the edge's sessions and queues are sampled, then the tick runs on them. */
  private scheduleTick(tickMs: number): void {
    this.timer = setTimeout(() => {
      void this.sample()
        .then(() => this.tick())
        .finally(() => {
          if (!this.stopping) this.scheduleTick(tickMs);
        });
    }, tickMs);
  }

  /** Reads what the edge has open and queued for each instance into the pools. */
  async sample(): Promise<void> {
    let stats;
    try {
      stats = await this.routing.sample();
    } catch (error) {
      this.deps.log('edge sample failed', { error: (error as Error).message });
      return;
    }
    const { down, silent } = applyEdgeStats(this.deps.registry.all(), stats, this.deps.clock.now());
    for (const { fn, instance } of down) void this.track(this.foundDown(fn, instance));
    for (const { fn, instance } of silent) void this.track(this.foundSilent(fn, instance));
  }

  /**
   * The edge saw the instance's requests fail with no answer begun for a whole timeout (answer-watch.ts): a
   * suspect, as a client that stalls its upload makes the same counts. Its adapter probes the app: no answer
   * there either (or no adapter answering), and it is stuck and goes.
   */
  private foundSilent(fn: FunctionRuntime, instance: Instance): Promise<void> {
    return this.checkOnce(instance, async () => {
      const quietMs = this.deps.clock.now() - instance.edgeAnswers!.lastAnswerAt;
      const probe = livenessProbeMs(fn.spec.timeoutMs);
      const answer = await this.adapter.appAnswers(instance, probe);
      if (!fn.pool.has(instance) || !isIn(instance, 'active')) return;
      if (answer === 'answers') {
        instance.edgeAnswers!.lastAnswerAt = this.deps.clock.now();
        this.deps.log('requests failed with no answer, but the app answers a probe: left alone', {
          instance: instance.name,
          quietMs,
        });
        return;
      }
      this.instanceGone(instance.id, { via: 'stuck', quietMs, timeoutMs: fn.spec.timeoutMs, answer });
    });
  }

  /** One question about an instance's health at a time, however many samples find it suspect meanwhile. */
  private async checkOnce(instance: Instance, check: () => Promise<void>): Promise<void> {
    if (this.checkingDown.has(instance.id)) return;
    this.checkingDown.add(instance.id);
    try {
      await check();
    } finally {
      this.checkingDown.delete(instance.id);
    }
  }

  /** No more ticks, starts or watching; requests still waiting for capacity get 503. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watch.stop();
    if (this.timer) clearTimeout(this.timer);
    await this.startsSettled();
    for (const fn of this.deps.registry.all()) {
      fn.pool.rejectAllWaiting(
        new PilotlightError('RUNNER_STOPPING', 'the runner is stopping: retry shortly', 503),
      );
    }
  }

  /** Resolves once every engine action under way (and any it led to) has finished. */
  async settled(): Promise<void> {
    while (this.underway.size > 0) await Promise.allSettled([...this.underway]);
  }

  /** Resolves once no scale-out is making a container. */
  async startsSettled(): Promise<void> {
    while (this.starting.size > 0) await Promise.allSettled([...this.starting]);
  }

  runtimeFor(spec: FunctionSpec): FunctionRuntime {
    const runtime: FunctionRuntime = new FunctionRuntime(spec, {
      now: () => this.deps.clock.now(),
      onNeedCapacity: () => this.requestTick(),
      wake: (instance) => this.wake(runtime, instance),
    });
    return runtime;
  }

  /**
   * Asks for a tick soon, outside the caller's turn (a request is waiting for capacity, an instance died).
   * However many ask meanwhile, one tick runs.
   */
  requestTick(): void {
    if (this.tickRequested || this.stopping) return;
    this.tickRequested = true;
    setImmediate(() => {
      this.tickRequested = false;
      this.tick();
    });
  }

  /** Samples every function's demand, asks the autoscaler and the planner, and carries out their actions. */
  tick(): void {
    if (this.stopping) return;
    const now = this.deps.clock.now();
    for (const fn of this.deps.registry.all()) {
      try {
        for (const action of fn.tick(now)) this.carryOut(fn, action);
      } catch (error) {
        this.deps.log('tick failed', { fn: fn.spec.name, error: (error as Error).stack ?? String(error) });
      }
    }
  }

  /**
   * A new function's first instance, started, ready and initialized; or the reason it never became ready,
   * or the initializer's failure with its output.
   */
  async startReady(spec: FunctionSpec): Promise<{ instance: Instance; readyMs: number; initMs?: number }> {
    const instance = await this.containers.start(spec);
    try {
      const readyMs = await this.waitReady(instance, spec);
      const initMs = await this.initialize(instance, spec);
      return { instance, readyMs, ...(initMs === undefined ? {} : { initMs }) };
    } catch (error) {
      await this.containers.stop(instance.id);
      throw error;
    }
  }

  /** A ready instance starts serving: it gets its active spec (the start-up boost ends) and joins the pool. */
  async activate(fn: FunctionRuntime, instance: Instance): Promise<void> {
    instance.revision = fn.spec.revision;
    try {
      await this.settle(instance, fn.spec);
      await this.routing.declare(fn.spec);
      await this.routing.serve(instance, fn.spec.concurrency);
    } catch (error) {
      // In no pool yet: left running, nothing would ever stop it, and a restart would adopt it.
      await this.routing.remove(instance).catch(() => undefined);
      await this.containers.stop(instance.id);
      throw error;
    }
    const now = this.deps.clock.now();
    moveTo(instance, 'active', now);
    instance.readyAt = now;
    fn.pool.add(instance);
  }

  /**
   * Starts `count` more instances of the function at once, as scale-outs do, and resolves once each serves or
   * has failed (a failure is logged as a scale-out's is): a release brings the new revision up to the old
   * one's size before the old one stops taking requests.
   */
  async surge(fn: FunctionRuntime, count: number): Promise<void> {
    const starts = Array.from({ length: Math.max(0, count) }, () => this.track(this.scaleOut(fn)));
    await Promise.allSettled(starts);
  }

  /** Drains every instance of a function (over a copy: each drain takes its instance out of the pool). */
  async drainAll(fn: FunctionRuntime): Promise<void> {
    await (
      await this.retire(fn)
    ).drained;
  }

  /**
   * Resolves once the edge sends nothing new to any instance of the function (a redeploy's old revision),
   * with the end of their drains to wait for or not.
   */
  async retire(fn: FunctionRuntime): Promise<{ drained: Promise<void> }> {
    const instances = [...fn.pool.instances].filter((instance) => instance.state !== 'draining');
    await Promise.all(instances.map((instance) => this.stopSending(instance)));
    const drains = instances.map((instance) => this.finishDrain(fn, instance));
    return { drained: Promise.all(drains).then(() => undefined) };
  }

  /** The function's backend at the edge as the spec says (a deploy that failed puts back the one before). */
  async declareRoutes(spec: FunctionSpec): Promise<void> {
    await this.routing.declare(spec);
  }

  /** The function's backend leaves the edge (its name then answers 404). */
  async forgetRoutes(name: string): Promise<void> {
    await this.routing.forget(name);
  }

  record(fn: string, instance: string, action: string, detail: Record<string, unknown>): void {
    this.deps.store.recordInstanceEvent({
      at: this.deps.clock.now(),
      function: fn,
      instance,
      action,
      detail,
    });
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.underway.add(work);
    void work.finally(() => this.underway.delete(work)).catch(() => undefined);
    return work;
  }

  private carryOut(fn: FunctionRuntime, action: InstanceAction): void {
    if (action.kind === 'start') {
      for (let i = 0; i < action.count; i++) void this.track(this.scaleOut(fn));
      return;
    }
    const instance = fn.pool.instances.find((candidate) => candidate.id === action.id);
    if (!instance || this.locks.isHeld(instance.id) || instance.state === 'draining') return;
    if (action.kind === 'drain') void this.track(this.drain(fn, instance));
    else if (action.kind === 'shrink') void this.track(this.guard(instance, () => this.shrink(fn, instance)));
    else void this.track(this.guard(instance, () => this.freeze(fn, instance)));
  }

  /**
   * Waits until the adapter says the app is ready, and learns from it where the edge may send requests: the
   * app's own port, or the adapter's when the app listens on loopback only.
   */
  private async waitReady(
    instance: Instance,
    spec: FunctionSpec,
    timeoutMs = spec.startupTimeoutMs,
  ): Promise<number> {
    const readiness = await this.adapter.waitReady(instance, timeoutMs, () =>
      this.containers.isRunning(instance.id),
    );
    if (readiness.ready) {
      const ip = new URL(instance.address).hostname;
      // A body limit is kept on a chunked body only by the adapter, which cuts it as it streams.
      const direct = readiness.direct && spec.adapter.maxBodyBytes === undefined;
      instance.target = `${ip}:${direct ? spec.appPort : ADAPTER_PORT}`;
      return readiness.ms;
    }
    throw new AppNeverReadyError(instance.fn, readiness.reason, await this.containers.logTail(instance.id));
  }

  /** Runs the function's initializer on a ready instance, when it has one; its time in ms. */
  private async initialize(instance: Instance, spec: FunctionSpec): Promise<number | undefined> {
    if (!spec.adapter.initializer) return undefined;
    const result = await this.adapter.initialize(instance, spec.adapter.initializerTimeoutMs);
    if (result.ok) return result.ms;
    this.record(spec.name, instance.name, 'initializer-failed', { code: result.code, reason: result.reason });
    throw new InitializerFailedError(spec.name, instance.name, result.reason);
  }

  private async scaleOut(fn: FunctionRuntime): Promise<void> {
    let instance: Instance | undefined;
    fn.pendingStarts += 1;
    const making = this.containers.start(fn.spec);
    this.starting.add(making);
    try {
      instance = await making;
      fn.noteStartMade();
    } catch (error) {
      fn.noteStartRefused(this.deps.clock.now());
      this.deps.log('scale-out failed', {
        fn: fn.spec.name,
        error: (error as Error).message,
        retryInMs: fn.startBackoff.holdStartsUntil - this.deps.clock.now(),
      });
      return;
    } finally {
      this.starting.delete(making);
      fn.pendingStarts -= 1;
    }
    if (this.stopping || !this.deps.registry.isCurrent(fn)) {
      // The function was removed (or the runner is stopping) while the container was being made.
      await this.containers.remove(instance.id);
      return;
    }
    fn.pool.add(instance);
    const ready = instance;
    try {
      const readyMs = await this.waitReady(ready, fn.spec);
      const initMs = await this.initialize(ready, fn.spec);
      // It died, or the planner drained it while it started (the surplus goes from those not ready first).
      if (this.dead.has(ready.id) || !fn.pool.has(ready) || !isIn(ready, 'starting')) return;
      await this.routing.serve(ready, fn.spec.concurrency);
      if (this.dead.has(ready.id) || !fn.pool.has(ready) || !isIn(ready, 'starting')) {
        return void (await this.routing.remove(ready));
      }
      const now = this.deps.clock.now();
      moveTo(ready, 'active', now);
      ready.readyAt = now;
      fn.pool.serveWaiting();
      this.record(fn.spec.name, ready.name, 'start', {
        readyMs,
        ...(initMs === undefined ? {} : { initMs }),
      });
      this.deps.log('scaled out', { fn: fn.spec.name, instance: ready.name, readyMs });
      await this.guard(ready, () => this.settle(ready, fn.spec));
    } catch (error) {
      // Stopped as it started, by a release or a removal of its function, or drained by the planner.
      if (!this.deps.registry.isCurrent(fn) || isIn(ready, 'draining')) {
        return this.deps.log('scale-out stopped before it was ready', {
          fn: fn.spec.name,
          instance: ready.name,
        });
      }
      this.deps.log('scale-out failed', { fn: fn.spec.name, error: (error as Error).message });
      // A start that never became ready counts toward a crash loop like a death (once: the engine may have
      // reported the container's exit already).
      this.instanceGone(ready.id, { via: 'start-failed', reason: (error as Error).message });
    }
  }

  /** Ends the start-up boost: the instance gets its active spec. */
  private async settle(instance: Instance, spec: FunctionSpec): Promise<void> {
    const { cpus, memory } = instance.spec;
    if (cpus === spec.active.cpus && memory === spec.active.memory) return;
    await this.containers.resize(instance.id, spec.active);
    moveTo(instance, instance.state, instance.stateSince, spec.active);
  }

  /**
   * A container of ours died, was killed or removed, or is not who its address says: it leaves its pool at
   * once (no request is handed to it from now on), its death is counted toward a crash loop, a replacement
   * is planned, and the engine's account of it (exit code, OOM kill, last log lines) is recorded.
   */
  private instanceGone(id: string, cause: Departure): void {
    if (this.dead.has(id)) return;
    const found = this.deps.registry.findInstance(id);
    if (!found) return;
    const { fn, instance } = found;
    // An instance this runner is draining or has stopped is not a death.
    if (instance.state === 'draining' && cause.via !== 'start-failed') return;
    this.dead.add(id);
    fn.pool.remove(instance);
    void this.track(this.routing.remove(instance)).catch((error: Error) =>
      this.deps.log('edge: server not removed', { instance: instance.name, error: error.message }),
    );
    const now = this.deps.clock.now();
    const reason = firstAccount(cause, this.oomKilled.has(id), instance.spec.memory);
    const account = this.track(this.recordDeath(fn, instance, cause, now));
    fn.noteDeath(
      {
        at: now,
        instance: instance.name,
        startedAt: instance.startedAt,
        ranMs: instance.readyAt === undefined ? undefined : now - instance.readyAt,
        // A kill signal sent through the engine, or a network taken away, is someone's doing, not the app's.
        external: (cause.via === 'event' && cause.action === 'kill') || cause.via === 'detached',
        reason,
      },
      account.catch(() => undefined),
    );
    this.requestTick();
  }

  private async recordDeath(
    fn: FunctionRuntime,
    instance: Instance,
    cause: Departure,
    at: number,
  ): Promise<string> {
    this.accounting.add(instance.id);
    try {
      const detail = await takeAccount(this.containers, instance, cause, at, this.oomKilled.has(instance.id));
      this.oomKilled.delete(instance.id);
      this.record(fn.spec.name, instance.name, 'die', { ...detail });
      this.deps.log('instance died', {
        fn: fn.spec.name,
        instance: instance.name,
        reason: detail.reason,
        noticedBy: detail.noticedBy,
      });
      // Forget the id once every late event about it (die after kill, destroy after die) has surely arrived.
      setTimeout(() => this.dead.delete(instance.id), 60_000).unref();
      return detail.reason;
    } finally {
      this.accounting.delete(instance.id);
    }
  }

  /**
   * The edge could not connect to an instance: its adapter, asked by name, says why (the app exited,
   * another container holds the address, nothing answers), and it is taken for dead. One that says it is
   * healthy (a refusal the app got over) is given back to the edge.
   */
  private foundDown(fn: FunctionRuntime, instance: Instance): Promise<void> {
    return this.checkOnce(instance, async () => {
      const health = await this.adapter.health(instance);
      if (!fn.pool.has(instance) || !isIn(instance, 'active')) return;
      // No answer from a container the engine still runs is not a death (a slow or busy adapter).
      const alive =
        !health.healthy && health.code === 'UNREACHABLE' && (await this.containers.isRunning(instance.id));
      if (health.healthy || alive) {
        this.deps.log('edge found an instance down that is healthy or still running: given back', {
          instance: instance.name,
        });
        await this.routing.serve(instance, fn.spec.concurrency);
        return;
      }
      const answer = health.code === 'UNREACHABLE' ? 'EDGE_DOWN' : health.code;
      this.instanceGone(instance.id, { via: 'answer', answer, message: health.reason });
    });
  }

  /** A stopped container of ours that nothing tracks (its removal failed while the engine was away). */
  private async removeOrphan(id: string): Promise<void> {
    if (this.accounting.has(id)) return;
    await this.containers.remove(id);
    this.deps.log('removed stopped container', { container: id.slice(0, 12) });
  }

  /**
   * A pause the runner did not make (its own freeze marks the instance freezing first): the instance is
   * treated as frozen, so the next request wakes it instead of hanging on it.
   */
  private pausedOutside(id: string): void {
    if (this.ownPauses.delete(id)) return;
    const found = this.deps.registry.findInstance(id);
    if (!found || this.locks.isHeld(id)) return;
    const { fn, instance } = found;
    if (instance.state !== 'active' && instance.state !== 'reserved') return;
    moveTo(instance, 'frozen', this.deps.clock.now());
    void this.routing.hold(instance).catch(() => undefined);
    this.record(fn.spec.name, instance.name, 'paused', { by: 'someone else: woken on its next request' });
  }

  private watchSource(): WatchSource {
    return {
      events: async (since) => {
        const replay = since === undefined ? {} : { since };
        const containers = await this.deps.engine.events({
          labels: { [LABEL_RUNNER]: this.deps.runnerId },
          actions: ['die', 'oom', 'kill', 'destroy', 'pause'],
          ...replay,
        });
        try {
          const networks = await this.deps.engine.events({
            type: 'network',
            actions: ['disconnect'],
            ...replay,
          });
          return mergeLines([containers, networks]);
        } catch (error) {
          (containers as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
          throw error;
        }
      },
      list: async () =>
        (await this.containers.list()).map((container) => ({
          id: container.id,
          state: container.state,
          networked: Object.keys(container.addresses).length > 0,
        })),
    };
  }

  /** No new requests; once those in flight are done, SIGTERM through the engine's stop, and it goes. */
  private async drain(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (instance.state === 'draining') return;
    await this.stopSending(instance);
    await this.finishDrain(fn, instance);
  }

  private async stopSending(instance: Instance): Promise<void> {
    moveTo(instance, 'draining', this.deps.clock.now());
    await this.routing
      .drain(instance)
      .catch((error: Error) =>
        this.deps.log('edge: drain not set', { instance: instance.name, error: error.message }),
      );
  }

  private async finishDrain(fn: FunctionRuntime, instance: Instance): Promise<void> {
    const deadline = this.deps.clock.now() + fn.spec.timeoutMs;
    while (this.deps.clock.now() < deadline) {
      const atEdge = await this.routing.sessions(instance).catch(() => 0);
      if (instance.inflight === 0 && atEdge === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    fn.pool.remove(instance);
    await this.routing.remove(instance).catch(() => undefined);
    await this.containers.stop(instance.id);
    this.record(fn.spec.name, instance.name, 'stop', {});
  }

  /** Resizes an idle instance down in place; it is `reserved` only once the engine has applied the spec. */
  private async shrink(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (inUse(instance) > 0 || instance.state !== 'active') return;
    const { spec: before, stateSince } = instance;
    moveTo(instance, 'shrinking', this.deps.clock.now());
    try {
      // Out of the edge first; a request it took meanwhile keeps it active.
      await this.routing.hold(instance);
      if ((await this.routing.sessions(instance)) > 0 || instance.inflight > 0) {
        await this.routing.serve(instance, fn.spec.concurrency);
        if (isIn(instance, 'shrinking')) moveTo(instance, 'active', stateSince, before);
        return;
      }
      const usage =
        (await this.adapter.memoryInUse(instance)) ?? (await this.containers.memoryUsage(instance.id));
      const target = shrinkTarget(fn.spec.reserved, usage);
      await this.containers.resize(instance.id, target.applied);
      if (!isIn(instance, 'shrinking')) return;
      moveTo(instance, 'reserved', this.deps.clock.now(), target.applied);
      this.record(fn.spec.name, instance.name, 'shrink', { ...target });
    } catch (error) {
      if (isIn(instance, 'shrinking')) {
        await this.routing.serve(instance, fn.spec.concurrency).catch(() => undefined);
        moveTo(instance, 'active', stateSince, before);
      }
      throw error;
    }
  }

  /** Pauses a reserved instance after its pre-freeze hook; one that got a request meanwhile stays reserved. */
  private async freeze(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (inUse(instance) > 0 || instance.state !== 'reserved') return;
    const { stateSince } = instance;
    moveTo(instance, 'freezing', this.deps.clock.now());
    const undo = (): void => {
      if (isIn(instance, 'freezing')) moveTo(instance, 'reserved', stateSince);
    };
    await this.adapter.preFreeze(instance);
    if (inUse(instance) > 0 || !isIn(instance, 'freezing')) return undo();
    // Its pause event may arrive after a wake: it must not be taken for someone else's pause.
    this.ownPauses.add(instance.id);
    try {
      await this.containers.pause(instance.id);
    } catch (error) {
      this.ownPauses.delete(instance.id);
      undo();
      throw error;
    }
    if (!isIn(instance, 'freezing')) return;
    moveTo(instance, 'frozen', this.deps.clock.now());
    this.record(fn.spec.name, instance.name, 'freeze', {});
  }

  /** Gives a shrunk or frozen instance its active spec back, after any action under way on it. */
  private async wake(fn: FunctionRuntime, instance: Instance): Promise<void> {
    const started = performance.now();
    await this.locks.run(instance.id, async () => {
      const from = instance.state;
      if (from === 'active') return; // the shrink or freeze it waited for did not happen
      if (from !== 'reserved' && from !== 'frozen') {
        throw new PilotlightError('INSTANCE_GONE', `instance ${instance.name} is ${from}: retry`, 503);
      }
      await this.containers.wake(instance.id, fn.spec.active, from === 'frozen');
      // An instance adopted while frozen has not said yet where the edge may reach it.
      if (!instance.target) await this.waitReady(instance, fn.spec, 5_000);
      await this.routing.serve(instance, fn.spec.concurrency);
      const now = this.deps.clock.now();
      moveTo(instance, 'active', now, fn.spec.active);
      instance.lastActiveAt = now;
      this.record(fn.spec.name, instance.name, 'wake', {
        from,
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    });
  }

  /**
   * An active instance may have been left mid-start by the previous runner: its initializer is run (the
   * adapter runs it at most once, and answers at once when it has), and its start-up boost ends. One whose
   * initializer fails goes; false then.
   */
  private async finishStart(fn: FunctionRuntime, instance: Instance): Promise<boolean> {
    try {
      await this.initialize(instance, fn.spec);
      await this.settle(instance, fn.spec);
      return true;
    } catch (error) {
      this.deps.log('adopted instance not started', {
        instance: instance.name,
        error: (error as Error).message,
      });
      await this.containers.stop(instance.id);
      return false;
    }
  }

  /**
   * An instance of another revision than the stored one: of the one before, when the previous runner died in
   * a release; of the next, when it died in a deploy before storing it. It never serves again here. An active
   * one may still finish requests an old edge worker sent it, so it drains; a reserved or frozen one has none
   * (the edge held it), and goes at once.
   */
  private retireAdopted(fn: FunctionRuntime, instance: Instance): void {
    this.deps.log('retiring instance of another revision', {
      fn: fn.spec.name,
      instance: instance.name,
      revision: instance.revision,
      current: fn.spec.revision,
    });
    if (instance.state !== 'active') {
      void this.track(this.guard(instance, () => this.containers.stop(instance.id)));
      return;
    }
    moveTo(instance, 'draining', this.deps.clock.now());
    fn.pool.add(instance);
    void this.track(this.finishDrain(fn, instance));
  }

  /** Runs an engine action holding the instance's lock; a failure is logged, not thrown. */
  private async guard(instance: Instance, work: () => Promise<void>): Promise<void> {
    try {
      await this.locks.run(instance.id, work);
    } catch (error) {
      this.deps.log('instance action failed', { instance: instance.name, error: (error as Error).message });
    }
  }

  /** After a restart: take back this runner's running instances by their labels, remove the rest. */
  private async adopt(): Promise<void> {
    for (const summary of await this.containers.list()) {
      const fn = this.deps.registry.find(summary.labels[LABEL_FUNCTION] ?? '');
      const instance =
        fn && (summary.state === 'running' || summary.state === 'paused')
          ? await this.containers.adopt(summary, fn.spec)
          : undefined;
      if (!fn || !instance) {
        // A running one may still have requests from the edge (the runner was stopped in the middle of its
        // function's removal): it goes once the edge is done with it.
        if (summary.state === 'running') this.orphans.push(summary);
        else await this.removeOrphanInstance(summary);
        continue;
      }
      if (instance.state !== 'frozen') await this.waitReady(instance, fn.spec, 5_000).catch(() => undefined);
      // Through its adapter, if the app could not say: the adapter reaches the app wherever it listens.
      if (instance.state === 'active' && !instance.target) {
        instance.target = `${new URL(instance.address).hostname}:${ADAPTER_PORT}`;
      }
      if (instance.revision !== fn.spec.revision) {
        this.retireAdopted(fn, instance);
        continue;
      }
      if (instance.state === 'active' && !(await this.finishStart(fn, instance))) continue;
      if (instance.state === 'active') await this.routing.serve(instance, fn.spec.concurrency);
      fn.pool.add(instance);
      this.deps.log('adopted instance', { fn: fn.spec.name, instance: instance.name, state: instance.state });
    }
    if (this.orphans.length === 0) await this.removeOrphanNetworks();
  }

  /**
   * Once the edge is open (its workers no longer route to functions that are gone): each running orphan is
   * removed when no worker has a request open at it (ORPHAN_DRAIN_MS at most), then the networks of functions
   * no longer deployed.
   */
  retireOrphans(): Promise<void> {
    const orphans = this.orphans.splice(0);
    if (orphans.length === 0) return Promise.resolve();
    return this.track(
      (async () => {
        await Promise.all(orphans.map((orphan) => this.retireOrphan(orphan)));
        await this.removeOrphanNetworks();
      })(),
    );
  }

  private async retireOrphan(summary: ContainerSummary): Promise<void> {
    const ips = Object.values(summary.addresses);
    const deadline = Date.now() + ORPHAN_DRAIN_MS;
    const open = async () =>
      (await Promise.all(ips.map((ip) => this.routing.openAt(ip).catch(() => 0)))).reduce((a, b) => a + b, 0);
    while (Date.now() < deadline && !this.stopping && (await open()) > 0) await sleep(250);
    await this.removeOrphanInstance(summary).catch((error: Error) =>
      this.deps.log('orphan instance not removed', { container: summary.name, error: error.message }),
    );
  }

  private async removeOrphanInstance(summary: ContainerSummary): Promise<void> {
    await this.containers.remove(summary.id);
    this.deps.log('removed orphan instance', { container: summary.name, state: summary.state });
  }

  private async removeOrphanNetworks(): Promise<void> {
    const removed = await this.containers.networks
      .removeAllBut(new Set(this.deps.registry.names()))
      .catch(() => [] as string[]);
    for (const network of removed) this.deps.log('removed orphan network', { network });
  }
}

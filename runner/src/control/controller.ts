import type Docker from 'dockerode';
import type { InstanceAction } from '../autoscaler/plan-instances.js';
import type { AdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { readAppImageConfig } from '../adapter-runtime/image-config.js';
import type { ProgressEvent } from '../../../engine/follow-progress.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { UnknownFunctionError } from '../errors.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import { pullImage } from '../registry/pull-image.js';
import { authFromDockerConfig, registryHost } from '../registry/registry-auth.js';
import type { Instance } from '../instances/instance.js';
import { ContainerWatch, type GoneCause, type WatchSource } from '../instances/container-watch.js';
import { describeExit, InstanceManager, type Clock } from '../instances/instance-manager.js';
import { LABEL_FUNCTION, LABEL_RUNNER } from '../../../engine/labels.js';
import type { StateStore } from '../store/state-store.js';
import { checkDeploy, type DeployRequest } from '../spec/deploy-request.js';
import { FunctionRuntime } from './function-runtime.js';

/**
 * What is known of a death the moment it is noticed (the engine's full account comes a little later): the
 * exit code of a die event, or what the instance's adapter said when it refused a request.
 */
function firstAccount(cause: Departure, oomKilled: boolean, memory: number): string {
  if (cause.via === 'start-failed') return `failed to start: ${cause.reason}`;
  if (cause.via === 'event' && cause.action !== 'kill') {
    return describeExit({ exitCode: cause.exitCode, oomKilled, memory });
  }
  const said = cause.via === 'answer' ? (cause.message ?? '') : '';
  const code = /exited with code (\d+)/.exec(said)?.[1];
  const oomSaid = /OOM-killed: (memory limit exceeded[^;]*)/.exec(said)?.[1];
  if (oomSaid) return `was OOM-killed: ${oomSaid}`;
  if (code) return describeExit({ exitCode: Number(code), oomKilled, memory });
  return describeExit({ exitCode: undefined, oomKilled, memory });
}

/** How the runner learnt that an instance is gone: the engine, the gateway, or a start that failed. */
type Departure =
  | GoneCause
  | { via: 'answer'; answer: string; message?: string | undefined }
  | { via: 'start-failed'; reason: string };

export interface DeployResult {
  name: string;
  revision: number;
  image: string;
  digest: string | undefined;
  readyMs: number;
  warnings: string[];
}

export interface ControllerDeps {
  docker: Docker;
  store: StateStore;
  runtime: AdapterRuntime;
  runnerId: string;
  host: { cpus: number; memory: number };
  env: Record<string, string | undefined>;
  clock?: Clock;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  tickMs?: number;
  /** How often every instance is checked against the engine's list, whatever its events said. */
  sweepMs?: number;
}

/**
 * The runner's brain: deploys functions, keeps a pool per function, and every tick lets the autoscaler and
 * the lifecycle planner decide what the engine should run; carries those decisions out.
 */
export class Controller {
  readonly functions = new Map<string, FunctionRuntime>();
  readonly instances: InstanceManager;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly starting = new Set<Promise<void>>();
  private readonly busy = new Set<string>();
  private tickRequested = false;
  private readonly watch: ContainerWatch;
  /** Instances already taken out as dead (a death is handled once, however many events report it). */
  private readonly dead = new Set<string>();
  /** Dead instances whose account is being taken from the engine: their containers must stay until then. */
  private readonly accounting = new Set<string>();
  /** Instances this runner is pausing, until the engine reports their pause. */
  private readonly ownPauses = new Set<string>();
  /** Containers the engine reported an OOM kill in, until their death is recorded. */
  private readonly oomKilled = new Set<string>();

  constructor(private readonly deps: ControllerDeps) {
    this.clock = deps.clock ?? { now: () => Date.now() };
    this.instances = new InstanceManager(
      deps.docker,
      deps.runtime,
      deps.runnerId,
      this.clock,
      deps.host.cpus,
    );
    this.watch = new ContainerWatch({
      source: this.watchSource(),
      tracked: () => this.trackedIds(),
      onGone: (id, cause) => this.instanceGone(id, cause),
      onOom: (id) => this.oomKilled.add(id),
      onPaused: (id) => this.pausedOutside(id),
      onOrphan: (id) => void this.removeOrphan(id),
      log: deps.log,
      sweepMs: deps.sweepMs,
    });
  }

  /** Loads functions from the store, adopts their running instances, removes orphans, starts ticking. */
  async start(): Promise<void> {
    for (const spec of this.deps.store.listFunctions()) this.functions.set(spec.name, this.runtimeFor(spec));
    await this.adopt();
    await this.watch.start();
    this.timer = setInterval(() => this.tick(), this.deps.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.watch.stop();
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.starting]);
    for (const fn of this.functions.values()) {
      fn.pool.rejectAllWaiting(
        new PilotlightError('RUNNER_STOPPING', 'the runner is stopping: retry shortly', 503),
      );
    }
  }

  get(name: string): FunctionRuntime {
    const fn = this.functions.get(name);
    if (!fn) throw new UnknownFunctionError(name);
    return fn;
  }

  async deploy(
    request: DeployRequest,
    onProgress: (event: ProgressEvent) => void = () => {},
  ): Promise<DeployResult> {
    const checked = checkDeploy(request, this.deps.host);
    const auth = request.auth ?? authFromDockerConfig(registryHost(checked.image), this.deps.env);
    const pulled = await pullImage(this.deps.docker, checked.image, {
      auth,
      policy: request.pull,
      onProgress,
    });
    const image = await readAppImageConfig(this.deps.docker, pulled.id);
    const appPort = checked.port ?? image.exposedPort;
    if (!appPort) {
      throw new PilotlightError(
        'NO_PORT',
        `image ${checked.image} declares no EXPOSE port: pass --port with the port the app listens on`,
        400,
      );
    }
    const previous = this.functions.get(checked.name);
    const candidate: FunctionSpec = {
      name: checked.name,
      image: checked.image,
      digest: pulled.digest,
      imageId: pulled.id,
      revision: (previous?.spec.revision ?? this.deps.store.getFunction(checked.name)?.revision ?? 0) + 1,
      appPort,
      active: checked.active,
      reserved: checked.reserved,
      concurrency: checked.concurrency,
      timeoutMs: checked.timeoutMs,
      startupTimeoutMs: checked.startupTimeoutMs,
      env: checked.env,
      errorStatuses: checked.errorStatuses,
      scaling: { minScale: checked.minScale, maxScale: checked.maxScale, ...checked.autoscaler },
      lifecycle: checked.lifecycle,
    };

    // The first instance must be ready before anything is recorded: a failed deploy leaves nothing behind,
    // not even the network made for a function that did not exist before.
    const isNew = !previous && !this.deps.store.getFunction(checked.name);
    let first: Instance | undefined;
    let readyMs: number;
    try {
      first = await this.instances.start(candidate, candidate.imageId);
      readyMs = await this.instances.waitReady(first, candidate.startupTimeoutMs);
    } catch (error) {
      if (first) await this.instances.stop(first);
      if (isNew) await this.instances.networks.remove(checked.name).catch(() => undefined);
      throw error;
    }
    const { revision: _ignored, ...toStore } = candidate;
    const stored = this.deps.store.putFunction(toStore, this.clock.now());
    const runtime = this.runtimeFor(stored);
    first.revision = stored.revision;
    await this.instances.settle(first, stored);
    first.state = 'active';
    first.readyAt = this.clock.now();
    runtime.pool.add(first);
    this.functions.set(stored.name, runtime);
    if (previous) {
      previous.pool.rejectAllWaiting(
        new PilotlightError('REDEPLOYED', 'the function was redeployed: retry', 503),
      );
      void this.drainAll(previous);
    }
    this.record(stored.name, first.name, 'start', { readyMs, revision: stored.revision });
    this.deps.log('deployed', { fn: stored.name, revision: stored.revision, readyMs });
    return {
      name: stored.name,
      revision: stored.revision,
      image: stored.image,
      digest: stored.digest,
      readyMs,
      warnings: checked.warnings,
    };
  }

  async remove(name: string): Promise<void> {
    const fn = this.get(name);
    this.functions.delete(name);
    fn.pool.rejectAllWaiting(new UnknownFunctionError(name));
    await this.drainAll(fn);
    await Promise.allSettled([...this.starting]);
    await this.instances.networks.remove(name).catch((error: Error) => {
      this.deps.log('network not removed', { fn: name, error: error.message });
    });
    this.deps.store.removeFunction(name);
  }

  /** Drains and stops a function's instances, keeping the function (a clean runner stop). */
  async stopInstances(name: string): Promise<void> {
    const fn = this.get(name);
    await this.drainAll(fn);
    await this.instances.networks.remove(name).catch(() => undefined);
  }

  scale(name: string, min: number | undefined, max: number | undefined): FunctionSpec {
    const fn = this.get(name);
    const minScale = min ?? fn.spec.scaling.minScale;
    const maxScale = max ?? fn.spec.scaling.maxScale;
    if (!(
      Number.isInteger(minScale) &&
      minScale >= 0 &&
      Number.isInteger(maxScale) &&
      maxScale >= Math.max(1, minScale)
    )) {
      throw new PilotlightError(
        'BAD_SCALE',
        `--min ${minScale} --max ${maxScale}: need 0 ≤ min ≤ max and max ≥ 1`,
        400,
      );
    }
    fn.spec = {
      ...fn.spec,
      scaling: { ...fn.spec.scaling, minScale, maxScale },
      lifecycle: { ...fn.spec.lifecycle, minScale },
    };
    // Same image and env: the running instances stay; only the numbers change.
    this.deps.store.saveFunction(fn.spec, this.clock.now());
    this.requestTick();
    return fn.spec;
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
    const now = this.clock.now();
    for (const fn of this.functions.values()) {
      try {
        for (const action of fn.tick(now)) this.carryOut(fn, action);
      } catch (error) {
        this.deps.log('tick failed', { fn: fn.spec.name, error: (error as Error).stack ?? String(error) });
      }
    }
  }

  private runtimeFor(spec: FunctionSpec): FunctionRuntime {
    let runtime: FunctionRuntime;
    runtime = new FunctionRuntime(spec, {
      now: () => this.clock.now(),
      onNeedCapacity: () => this.requestTick(),
      wake: (instance) => this.wake(runtime, instance),
    });
    return runtime;
  }

  private carryOut(fn: FunctionRuntime, action: InstanceAction): void {
    if (action.kind === 'start') {
      for (let i = 0; i < action.count; i++) void this.scaleOut(fn);
      return;
    }
    const instance = fn.pool.instances.find((candidate) => candidate.id === action.id);
    if (!instance || this.busy.has(instance.id)) return;
    if (action.kind === 'drain') void this.drain(fn, instance);
    else if (action.kind === 'shrink') void this.guard(instance, () => this.shrink(fn, instance));
    else void this.guard(instance, () => this.freeze(fn, instance));
  }

  private async scaleOut(fn: FunctionRuntime): Promise<void> {
    let instance: Instance | undefined;
    fn.pendingStarts += 1;
    const work = (async () => {
      try {
        instance = await this.instances.start(fn.spec, fn.spec.imageId);
      } finally {
        fn.pendingStarts -= 1;
      }
    })();
    this.starting.add(work);
    try {
      await work.finally(() => this.starting.delete(work));
      if (this.stopping || this.functions.get(fn.spec.name) !== fn) {
        // The function was removed (or the runner is stopping) while the container was being made.
        await this.instances.remove(instance!.id);
        return;
      }
      fn.pool.add(instance!);
      const ready = instance!;
      const readyMs = await this.instances.waitReady(ready, fn.spec.startupTimeoutMs);
      // It died, or the planner drained it while it started (the surplus goes from those not ready first).
      if (this.dead.has(ready.id) || !fn.pool.has(ready) || ready.state === 'draining') return;
      ready.state = 'active';
      ready.stateSince = this.clock.now();
      ready.readyAt = ready.stateSince;
      fn.pool.serveWaiting();
      this.record(fn.spec.name, ready.name, 'start', { readyMs });
      this.deps.log('scaled out', { fn: fn.spec.name, instance: ready.name, readyMs });
      await this.guard(ready, () => this.instances.settle(ready, fn.spec));
    } catch (error) {
      this.deps.log('scale-out failed', { fn: fn.spec.name, error: (error as Error).message });
      if (!instance) return;
      // A start that never became ready counts toward a crash loop like a death (once: the engine may have
      // reported the container's exit already).
      this.instanceGone(instance.id, { via: 'start-failed', reason: (error as Error).message });
    }
  }

  /**
   * The gateway found an instance gone before it served a request: refused at its address, answered by
   * another container (the address was reused), or its adapter says the app has exited or it is shutting
   * down. It leaves the pool now, without waiting for the engine to say so.
   */
  suspect(fn: FunctionRuntime, instance: Instance, answer: string, message?: string): void {
    if (fn.pool.has(instance)) this.instanceGone(instance.id, { via: 'answer', answer, message });
  }

  /**
   * A container of ours died, was killed or removed, or is not who its address says: it leaves its pool at
   * once (no request is handed to it from now on), its death is counted toward a crash loop, a replacement
   * is planned, and the engine's account of it (exit code, OOM kill, last log lines) is recorded.
   */
  private instanceGone(id: string, cause: Departure): void {
    if (this.dead.has(id)) return;
    const found = this.findInstance(id);
    if (!found) return;
    const { fn, instance } = found;
    // An instance this runner is draining or has stopped is not a death.
    if (instance.state === 'draining' && cause.via !== 'start-failed') return;
    this.dead.add(id);
    fn.pool.remove(instance);
    const now = this.clock.now();
    const reason = firstAccount(cause, this.oomKilled.has(id), instance.spec.memory);
    const account = this.recordDeath(fn, instance, cause, now);
    fn.noteDeath(
      {
        at: now,
        instance: instance.name,
        startedAt: instance.startedAt,
        ranMs: instance.readyAt === undefined ? undefined : now - instance.readyAt,
        // A kill signal sent through the engine is someone's decision, not the app dying of its own accord.
        external: cause.via === 'event' && cause.action === 'kill',
        reason,
      },
      account.catch(() => undefined),
    );
    this.requestTick();
  }

  /** A stopped container of ours that nothing tracks (its removal failed while the engine was away). */
  private async removeOrphan(id: string): Promise<void> {
    if (this.accounting.has(id)) return;
    await this.instances.remove(id);
    this.deps.log('removed stopped container', { container: id.slice(0, 12) });
  }

  private async recordDeath(
    fn: FunctionRuntime,
    instance: Instance,
    cause: Departure,
    at: number,
  ): Promise<string> {
    this.accounting.add(instance.id);
    try {
      return await this.takeAccount(fn, instance, cause, at);
    } finally {
      this.accounting.delete(instance.id);
    }
  }

  private async takeAccount(
    fn: FunctionRuntime,
    instance: Instance,
    cause: Departure,
    at: number,
  ): Promise<string> {
    // A killed container may still be on its way down: stop waits for it, then the engine's account is final.
    if (cause.via !== 'event' || cause.action === 'kill') await this.instances.halt(instance.id);
    const exit = await this.instances.exitOf(instance.id);
    const oomKilled = exit.oomKilled || this.oomKilled.has(instance.id);
    this.oomKilled.delete(instance.id);
    const memory = exit.memory || instance.spec.memory;
    const reason =
      cause.via === 'start-failed'
        ? firstAccount(cause, oomKilled, memory)
        : cause.via === 'answer' && cause.answer === 'INSTANCE_MISMATCH'
          ? 'was replaced at its address by another container'
          : describeExit({ ...exit, oomKilled, memory });
    await this.instances.remove(instance.id);
    const detail = {
      reason,
      exitCode: exit.exitCode ?? null,
      oomKilled,
      memory,
      noticedBy: cause.via === 'event' ? cause.action : cause.via === 'answer' ? cause.answer : cause.via,
      state: instance.state,
      ranMs: instance.readyAt === undefined ? null : at - instance.readyAt,
      logTail: exit.logTail,
    };
    this.record(fn.spec.name, instance.name, 'die', detail);
    this.deps.log('instance died', {
      fn: fn.spec.name,
      instance: instance.name,
      reason,
      noticedBy: detail.noticedBy,
    });
    // Forget the id once every late event about it (die after kill, destroy after die) has surely arrived.
    setTimeout(() => this.dead.delete(instance.id), 60_000).unref();
    return reason;
  }

  /**
   * A pause the runner did not make (its own freeze marks the instance frozen first): the instance is
   * treated as frozen, so the next request wakes it instead of hanging on it.
   */
  private pausedOutside(id: string): void {
    if (this.ownPauses.delete(id)) return;
    const found = this.findInstance(id);
    if (!found || this.busy.has(id)) return;
    const { fn, instance } = found;
    if (instance.state !== 'active' && instance.state !== 'reserved') return;
    instance.state = 'frozen';
    instance.stateSince = this.clock.now();
    this.record(fn.spec.name, instance.name, 'paused', { by: 'someone else: woken on its next request' });
  }

  private findInstance(id: string): { fn: FunctionRuntime; instance: Instance } | undefined {
    for (const fn of this.functions.values()) {
      const instance = fn.pool.instances.find((candidate) => candidate.id === id);
      if (instance) return { fn, instance };
    }
    return undefined;
  }

  private *trackedIds(): Iterable<string> {
    for (const fn of this.functions.values()) {
      for (const instance of fn.pool.instances) if (instance.state !== 'draining') yield instance.id;
    }
  }

  private watchSource(): WatchSource {
    const label = [`${LABEL_RUNNER}=${this.deps.runnerId}`];
    return {
      events: (since) =>
        this.deps.docker.getEvents({
          ...(since === undefined ? {} : { since }),
          filters: { type: ['container'], label, event: ['die', 'oom', 'kill', 'destroy', 'pause'] },
        }),
      list: async () =>
        (await this.instances.list()).map((container) => ({ id: container.Id, state: container.State })),
    };
  }

  /** Drains every instance of a function (over a copy: each drain takes its instance out of the pool). */
  private async drainAll(fn: FunctionRuntime): Promise<void> {
    await Promise.all([...fn.pool.instances].map((instance) => this.drain(fn, instance)));
  }

  /** No new requests; once those in flight are done, SIGTERM through docker stop, and the container goes. */
  private async drain(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (this.busy.has(instance.id) && instance.state === 'draining') return;
    this.busy.add(instance.id);
    instance.state = 'draining';
    const deadline = this.clock.now() + fn.spec.timeoutMs;
    while (instance.inflight > 0 && this.clock.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    fn.pool.remove(instance);
    await this.instances.stop(instance);
    this.busy.delete(instance.id);
    this.record(fn.spec.name, instance.name, 'stop', {});
  }

  private async shrink(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (instance.inflight > 0) return;
    const result = await this.instances.shrink(instance, fn.spec);
    this.record(fn.spec.name, instance.name, 'shrink', { ...result });
  }

  private async freeze(fn: FunctionRuntime, instance: Instance): Promise<void> {
    if (instance.inflight > 0) return;
    // Its pause event may arrive after a wake: it must not be taken for someone else's pause.
    this.ownPauses.add(instance.id);
    try {
      await this.instances.freeze(instance);
    } catch (error) {
      this.ownPauses.delete(instance.id);
      throw error;
    }
    this.record(fn.spec.name, instance.name, 'freeze', {});
  }

  private async wake(fn: FunctionRuntime, instance: Instance): Promise<void> {
    const from = instance.state;
    const started = performance.now();
    await this.guardWait(instance.id);
    await this.instances.wake(instance, fn.spec);
    this.record(fn.spec.name, instance.name, 'wake', {
      from,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }

  private async guard(instance: Instance, work: () => Promise<void>): Promise<void> {
    this.busy.add(instance.id);
    try {
      await work();
    } catch (error) {
      this.deps.log('instance action failed', { instance: instance.name, error: (error as Error).message });
    } finally {
      this.busy.delete(instance.id);
    }
  }

  /** A wake that arrives while a shrink or freeze is under way waits for it to finish first. */
  private async guardWait(id: string): Promise<void> {
    while (this.busy.has(id)) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** After a restart: take back this runner's running instances by their labels, remove the rest. */
  private async adopt(): Promise<void> {
    for (const info of await this.instances.list()) {
      const fn = this.functions.get(info.Labels[LABEL_FUNCTION] ?? '');
      if (!fn || (info.State !== 'running' && info.State !== 'paused')) {
        // Nothing routes to an orphan, so there is nothing to drain: it goes at once.
        await this.instances.remove(info.Id);
        this.deps.log('removed orphan instance', { container: info.Names[0], state: info.State });
        continue;
      }
      const instance = await this.instances.adopt(info, fn.spec);
      fn.pool.add(instance);
      this.deps.log('adopted instance', { fn: fn.spec.name, instance: instance.name, state: instance.state });
    }
    const removed = await this.instances.networks
      .removeAllBut(new Set(this.functions.keys()))
      .catch(() => [] as string[]);
    for (const network of removed) this.deps.log('removed orphan network', { network });
  }

  events(name: string) {
    this.get(name);
    return this.deps.store.instanceEvents(name);
  }

  private record(fn: string, instance: string, action: string, detail: Record<string, unknown>): void {
    this.deps.store.recordInstanceEvent({ at: this.clock.now(), function: fn, instance, action, detail });
  }
}

import type Docker from 'dockerode';
import type { InstanceAction } from '../autoscaler/plan-instances.js';
import type { AdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { readAppImageConfig } from '../adapter-runtime/image-config.js';
import type { ProgressEvent } from '../docker/follow-progress.js';
import { PilotlightError, UnknownFunctionError } from '../errors.js';
import type { FunctionSpec } from '../functions/function-spec.js';
import { pullImage } from '../images/pull-image.js';
import { authFromDockerConfig, registryHost } from '../images/registry-auth.js';
import type { Instance } from '../instances/instance.js';
import { InstanceManager, type Clock } from '../instances/instance-manager.js';
import { LABEL_FUNCTION } from '../labels.js';
import type { StateStore } from '../store/state-store.js';
import { checkDeploy, type DeployRequest } from './deploy-request.js';
import { FunctionRuntime } from './function-runtime.js';

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
  private ticking = false;
  private tickAgain = false;

  constructor(private readonly deps: ControllerDeps) {
    this.clock = deps.clock ?? { now: () => Date.now() };
    this.instances = new InstanceManager(
      deps.docker,
      deps.runtime,
      deps.runnerId,
      this.clock,
      deps.host.cpus,
    );
  }

  /** Loads functions from the store, adopts their running instances, removes orphans, starts ticking. */
  async start(): Promise<void> {
    for (const spec of this.deps.store.listFunctions()) this.functions.set(spec.name, this.runtimeFor(spec));
    await this.adopt();
    this.timer = setInterval(() => void this.tick(), this.deps.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
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

    // The first instance must be ready before anything is recorded: a failed deploy leaves nothing behind.
    const first = await this.instances.start(candidate, candidate.imageId);
    let readyMs: number;
    try {
      readyMs = await this.instances.waitReady(first, candidate.startupTimeoutMs);
    } catch (error) {
      await this.instances.stop(first);
      throw error;
    }
    const { revision: _ignored, ...toStore } = candidate;
    const stored = this.deps.store.putFunction(toStore, this.clock.now());
    const runtime = this.runtimeFor(stored);
    first.revision = stored.revision;
    await this.instances.settle(first, stored);
    first.state = 'active';
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
    this.deps.store.removeFunction(name);
  }

  /** Drains and stops a function's instances, keeping the function (a clean runner stop). */
  async stopInstances(name: string): Promise<void> {
    const fn = this.get(name);
    await this.drainAll(fn);
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
    void this.tick();
    return fn.spec;
  }

  /** Runs a tick now (or right after the running one): a request is waiting for capacity. */
  async tick(): Promise<void> {
    if (this.stopping) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        const now = this.clock.now();
        for (const fn of this.functions.values()) {
          for (const action of fn.tick(now)) this.carryOut(fn, action);
        }
      } while (this.tickAgain);
    } finally {
      this.ticking = false;
    }
  }

  private runtimeFor(spec: FunctionSpec): FunctionRuntime {
    let runtime: FunctionRuntime;
    runtime = new FunctionRuntime(spec, {
      now: () => this.clock.now(),
      onNeedCapacity: () => void this.tick(),
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
      ready.state = 'active';
      ready.stateSince = this.clock.now();
      fn.pool.serveWaiting();
      this.record(fn.spec.name, ready.name, 'start', { readyMs });
      this.deps.log('scaled out', { fn: fn.spec.name, instance: ready.name, readyMs });
      await this.guard(ready, () => this.instances.settle(ready, fn.spec));
    } catch (error) {
      this.deps.log('scale-out failed', { fn: fn.spec.name, error: (error as Error).message });
      if (instance) {
        fn.pool.remove(instance);
        await this.instances.stop(instance);
      }
    }
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
    await this.instances.freeze(instance);
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
  }

  events(name: string) {
    this.get(name);
    return this.deps.store.instanceEvents(name);
  }

  private record(fn: string, instance: string, action: string, detail: Record<string, unknown>): void {
    this.deps.store.recordInstanceEvent({ at: this.clock.now(), function: fn, instance, action, detail });
  }
}

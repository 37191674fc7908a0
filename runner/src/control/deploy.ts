import { PilotlightError, isPilotlightError } from '../../../common/pilotlight-error.js';
import type { ContainerEngine } from '../../../engine/container-engine.js';
import type { ProgressEvent } from '../../../engine/follow-progress.js';
import { readAppImageConfig } from '../adapter-runtime/image-config.js';
import { UnknownFunctionError } from '../errors.js';
import type { Clock } from '../instances/clock.js';
import type { Instance } from '../instances/instance.js';
import { pullImage } from '../registry/pull-image.js';
import { authFromDockerConfig, registryHost } from '../registry/registry-auth.js';
import { checkDeploy, type DeployRequest } from '../spec/deploy-request.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import type { SecretBox } from '../store/secret-box.js';
import type { StateStore } from '../store/state-store.js';
import { RedeployedError } from '../gateway/function-pool.js';
import { sealSecrets } from './deploy-secrets.js';
import type { FunctionRegistry } from './function-registry.js';
import type { FunctionRuntime } from './function-runtime.js';
import { KeyedLocks } from './keyed-locks.js';
import type { Log, Reconciler } from './reconciler.js';

export interface DeployResult {
  name: string;
  revision: number;
  image: string;
  digest: string | undefined;
  readyMs: number;
  warnings: string[];
}

export interface DeployerDeps {
  engine: ContainerEngine;
  store: StateStore;
  registry: FunctionRegistry;
  reconciler: Reconciler;
  host: { cpus: number; memory: number };
  env: Record<string, string | undefined>;
  clock: Clock;
  log: Log;
  secrets: SecretBox;
}

/** Changes to what is deployed: a new function or revision, its removal, its scale. */
export class Deployer {
  private readonly functionLocks = new KeyedLocks();

  constructor(private readonly deps: DeployerDeps) {}

  /** Checks a deploy request without doing anything: BAD_DEPLOY (400) with every problem, or nothing. */
  check(request: DeployRequest): void {
    checkDeploy(request, this.deps.host);
  }

  /**
   * Pulls the image and starts the first instance; only once it is ready is the revision stored and put in
   * front of traffic, and the previous revision drained. A failed deploy leaves nothing behind.
   */
  async deploy(
    request: DeployRequest,
    onProgress: (event: ProgressEvent) => void = () => {},
  ): Promise<DeployResult> {
    const { engine, store, registry } = this.deps;
    const checked = checkDeploy(request, this.deps.host);
    const auth = request.auth ?? authFromDockerConfig(registryHost(checked.image), this.deps.env);
    const pulled = await pullImage(engine, checked.image, { auth, policy: checked.pull, onProgress });
    const image = await readAppImageConfig(engine, pulled.id);
    const appPort = checked.port ?? image.exposedPort;
    if (!appPort) {
      throw new PilotlightError(
        'NO_PORT',
        `image ${checked.image} declares no EXPOSE port: pass --port with the port the app listens on`,
        400,
      );
    }
    // One deploy or removal of a function at a time: an rm and a redeploy of the same name must not interleave.
    return this.functionLocks.run(checked.name, async () => {
      const previous = registry.find(checked.name);
      const stored = store.getFunction(checked.name);
      const candidate = this.candidate(checked, pulled, appPort, previous?.spec ?? stored);
      if (previous) previous.replacementStarting = true;
      try {
        return { ...(await this.release(candidate, previous, stored)), warnings: checked.warnings };
      } finally {
        if (previous) previous.replacementStarting = false;
      }
    });
  }

  /** The revision a deploy makes: the next after the one before (running or stored), its secrets sealed. */
  private candidate(
    checked: ReturnType<typeof checkDeploy>,
    pulled: Awaited<ReturnType<typeof pullImage>>,
    appPort: number,
    before: FunctionSpec | undefined,
  ): FunctionSpec {
    return {
      name: checked.name,
      image: checked.image,
      digest: pulled.digest,
      imageId: pulled.id,
      revision: (before?.revision ?? 0) + 1,
      appPort,
      active: checked.active,
      reserved: checked.reserved,
      concurrency: checked.concurrency,
      timeoutMs: checked.timeoutMs,
      tunnelTimeoutMs: checked.tunnelTimeoutMs,
      startupTimeoutMs: checked.startupTimeoutMs,
      env: checked.env,
      errorStatuses: checked.errorStatuses,
      scaling: { minScale: checked.minScale, maxScale: checked.maxScale, ...checked.autoscaler },
      lifecycle: checked.lifecycle,
      adapter: checked.adapter,
      async: checked.async,
      isolation: checked.isolation,
      secrets: sealSecrets(checked.secrets, before?.secrets, this.deps.secrets),
      ...(checked.pull ? { pull: checked.pull } : {}),
    };
  }

  /** Starts the candidate's first instance, then stores it and puts it in front of traffic. */
  private async release(
    candidate: FunctionSpec,
    previous: FunctionRuntime | undefined,
    stored: FunctionSpec | undefined,
  ): Promise<Omit<DeployResult, 'warnings'>> {
    const { store, registry, reconciler } = this.deps;
    const name = candidate.name;
    let first: { instance: Instance; readyMs: number; initMs?: number };
    try {
      first = await reconciler.startReady(candidate);
    } catch (error) {
      // Not even the network made for a function that did not exist before is left behind.
      if (!previous && !stored) await reconciler.containers.networks.remove(name).catch(() => undefined);
      throw error;
    }
    const { revision: _ignored, ...toStore } = candidate;
    const saved = store.putFunction(toStore, this.deps.clock.now());
    const runtime = reconciler.runtimeFor(saved);
    try {
      await reconciler.activate(runtime, first.instance);
    } catch (error) {
      await this.undoStore(name, stored);
      throw new DeployUndoneError(saved.name, saved.revision, stored?.revision, error);
    }
    registry.set(runtime);
    if (previous) {
      // Gradual: the new revision serves with as many instances as the old one had active before the old one
      // stops taking requests, so a release under load keeps its capacity.
      const active = previous.pool.instances.filter((instance) => instance.state === 'active').length;
      await reconciler.surge(runtime, Math.min(active, saved.scaling.maxScale) - 1);
      // Requests the activator holds for the old revision wait on for the new one.
      previous.pool.rejectAllWaiting(new RedeployedError(saved.name));
      // The edge sends nothing new to the old revision before the deploy is answered.
      void (await reconciler.retire(previous)).drained;
    }
    reconciler.record(saved.name, first.instance.name, 'start', {
      readyMs: first.readyMs,
      ...(first.initMs === undefined ? {} : { initMs: first.initMs }),
      revision: saved.revision,
    });
    this.deps.log('deployed', { fn: saved.name, revision: saved.revision, readyMs: first.readyMs });
    return {
      name: saved.name,
      revision: saved.revision,
      image: saved.image,
      digest: saved.digest,
      readyMs: first.readyMs,
    };
  }

  /**
   * A deploy that failed once its spec was stored (the edge refused or died): the function is as it was
   * before, in the store and at the edge, or not there at all if it is new. Its instance is already stopped.
   */
  private async undoStore(name: string, before: FunctionSpec | undefined): Promise<void> {
    const { store, reconciler } = this.deps;
    if (before) {
      store.saveFunction(before, this.deps.clock.now());
      await reconciler.declareRoutes(before).catch(() => undefined);
      return;
    }
    store.removeFunction(name);
    await reconciler.forgetRoutes(name).catch(() => undefined);
    await reconciler.containers.networks.remove(name).catch(() => undefined);
  }

  /**
   * Forgets it, then drains and stops its instances and removes its network. Forgotten first: a runner killed
   * mid-drain finds them orphans when it starts again, and finishes the removal instead of bringing it back.
   */
  async remove(name: string): Promise<void> {
    const { registry, reconciler } = this.deps;
    await this.functionLocks.run(name, async () => {
      // The function as it is once the deploy or removal under way is done: gone, or a new revision.
      const fn = registry.get(name);
      this.deps.store.removeFunction(name);
      registry.delete(name);
      fn.pool.rejectAllWaiting(new UnknownFunctionError(name));
      await reconciler.drainAll(fn);
      await reconciler.startsSettled();
      await reconciler.forgetRoutes(name);
      await reconciler.containers.networks.remove(name).catch((error: Error) => {
        this.deps.log('network not removed', { fn: name, error: error.message });
      });
    });
  }

  /** Drains and stops a function's instances, keeping the function (a clean runner stop). */
  async stopInstances(name: string): Promise<void> {
    await this.deps.reconciler.drainAll(this.deps.registry.get(name));
    await this.deps.reconciler.containers.networks.remove(name).catch(() => undefined);
  }

  /** New bounds for the function's instances; after a deploy or removal of it under way, not in its middle. */
  scale(name: string, min: number | undefined, max: number | undefined): Promise<FunctionSpec> {
    return this.functionLocks.run(name, async () => {
      const fn = this.deps.registry.get(name);
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
      this.deps.store.saveFunction(fn.spec, this.deps.clock.now());
      this.deps.reconciler.requestTick();
      return fn.spec;
    });
  }

  events(name: string) {
    this.deps.registry.get(name);
    return this.deps.store.instanceEvents(name);
  }
}

/** A revision the edge could not take: the function is as it was before it, and the cause is kept. */
export class DeployUndoneError extends PilotlightError {
  constructor(fn: string, revision: number, before: number | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const now = before === undefined ? `${fn} is not deployed` : `${fn} still serves revision ${before}`;
    super(
      isPilotlightError(cause) ? cause.code : 'DEPLOY_FAILED',
      `revision ${revision} of ${fn} was undone, since the edge could not take it (${why}): ${now}; deploy again once the edge answers (runner up starts it again if it stopped)`,
      isPilotlightError(cause) ? cause.status : 500,
    );
  }
}

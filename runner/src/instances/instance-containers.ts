import { randomBytes } from 'node:crypto';
import { ADAPTER_EXIT, ENV } from '../../../adapter/contract/contract.js';
import { sleep } from '../../../common/sleep.js';
import type {
  ContainerCreate,
  ContainerDetails,
  ContainerEngine,
  ContainerSummary,
} from '../../../engine/container-engine.js';
import {
  LABEL_CAP_ADD,
  LABEL_FUNCTION,
  LABEL_REVISION,
  LABEL_RUNNER,
  managedLabels,
} from '../../../engine/labels.js';
import { ADAPTER_PORT, type AdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { readAppImageConfig, type AppImageConfig } from '../adapter-runtime/image-config.js';
import { adapterContainer } from '../adapter-runtime/mount-container.js';
import { defaultIsolationSettings, type AdapterSettings } from '../spec/deploy-request.js';
import { INSTANCE_LOG_LIMIT, instanceConfinement } from './confinement.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import type { Clock } from './clock.js';
import { FunctionNetworks } from './function-network.js';
import type { Instance } from './instance.js';
import { NetworkNotFoundError } from '../../../engine/engine-errors.js';
import { formatBytes, type ResourceSpec } from './resource-spec.js';

/** How a container ended, as the engine tells it after the fact. */
export interface ContainerExit {
  exitCode: number | undefined;
  oomKilled: boolean;
  /** The memory limit it had when it ended, in bytes (0: none). */
  memory: number;
  logTail: string;
}

/**
 * A runner's instance containers on the engine: made, found, resized, paused and stopped. It changes no
 * instance's state: the reconciler does, once these calls have returned.
 */
export class InstanceContainers {
  readonly networks: FunctionNetworks;
  private readonly imageConfigs = new Map<string, Promise<AppImageConfig>>();

  constructor(
    private readonly engine: ContainerEngine,
    private readonly runtime: AdapterRuntime,
    private readonly runnerId: string,
    private readonly clock: Clock,
    /** CPUs an instance may use while it starts (a start-up boost); its active spec applies once it is ready. */
    private readonly bootCpus = 0,
    /** Opens a function's sealed secrets for its instances' environment. */
    private readonly openSecret: (sealed: string) => string = () => {
      throw new Error('no secret box: this runner cannot open secrets');
    },
  ) {
    this.networks = new FunctionNetworks(engine, runnerId);
  }

  /** An image's config never changes for a given id: read it once, not on every cold start. */
  private imageConfig(imageRef: string): Promise<AppImageConfig> {
    let config = this.imageConfigs.get(imageRef);
    if (!config) {
      config = readAppImageConfig(this.engine, imageRef);
      config.catch(() => this.imageConfigs.delete(imageRef));
      this.imageConfigs.set(imageRef, config);
    }
    return config;
  }

  labelsFor(fn: FunctionSpec): Record<string, string> {
    return managedLabels('instance', {
      [LABEL_RUNNER]: this.runnerId,
      [LABEL_FUNCTION]: fn.name,
      [LABEL_REVISION]: String(fn.revision),
    });
  }

  /** Creates and starts a container at the active spec (boosted); it is 'starting' until it is ready. */
  async start(fn: FunctionSpec): Promise<Instance> {
    const name = `pilotlight-${fn.name}-r${fn.revision}-${randomBytes(3).toString('hex')}`;
    const network = await this.networks.ensure(fn.name);
    const boot = { cpus: Math.max(fn.active.cpus, this.bootCpus), memory: fn.active.memory };
    const isolation = fn.isolation ?? defaultIsolationSettings();
    const secrets = this.secretsOnStdin(fn);
    const spec = {
      ...adapterContainer({
        ref: fn.imageId,
        image: await this.imageConfig(fn.imageId),
        runtime: this.runtime,
        appPort: fn.appPort,
        labels: { ...this.labelsFor(fn), [LABEL_CAP_ADD]: isolation.capAdd.join(',') },
        name,
        env: {
          ...fn.env,
          ...(secrets === undefined ? {} : { [ENV.envOnStdin]: '1' }),
          [ENV.function]: fn.name,
          [ENV.revision]: String(fn.revision),
          [ENV.instance]: name,
          [ENV.maxInflight]: String(fn.concurrency),
          [ENV.maxQueued]: String(fn.concurrency),
          [ENV.requestTimeoutMs]: String(fn.timeoutMs),
          [ENV.drainTimeoutMs]: String(fn.timeoutMs),
          [ENV.startupTimeoutMs]: String(fn.startupTimeoutMs),
          ...(fn.errorStatuses ? { [ENV.errorStatuses]: fn.errorStatuses } : {}),
          ...adapterEnv(fn.adapter),
        },
      }),
      network,
      resources: boot,
      confinement: instanceConfinement(isolation),
      logLimit: INSTANCE_LOG_LIMIT,
      // Docker's stop waits this long after SIGTERM: enough for the adapter to drain and run pre-stop.
      stopTimeoutSeconds: Math.ceil(fn.timeoutMs / 1000) + 15,
      stdinAtStart: secrets !== undefined,
    };
    const details = await this.createRunning(spec, secrets).catch(async (error: Error) => {
      // The network was removed behind the runner's back (`docker network prune`): make it again, once.
      if (!(error instanceof NetworkNotFoundError)) throw error;
      this.networks.forget(fn.name);
      await this.networks.ensure(fn.name);
      return this.createRunning(spec, secrets);
    });
    const { id } = details;
    const now = this.clock.now();
    return {
      id,
      name,
      fn: fn.name,
      revision: fn.revision,
      address: adapterAddress(details, network),
      state: 'starting',
      startedAt: now,
      stateSince: now,
      lastActiveAt: now,
      inflight: 0,
      edgeSessions: 0,
      edgeTotal: 0,
      spec: boot,
    };
  }

  /** Creates, starts and reads back a container; one that fails on the way is removed, not left "created". */
  private async createRunning(spec: ContainerCreate, stdin: string | undefined): Promise<ContainerDetails> {
    const id = await this.engine.create(spec);
    try {
      await this.engine.start(id, stdin);
      const details = await this.engine.inspect(id);
      if (!details) throw new Error(`container ${spec.name ?? id} vanished as it started`);
      return details;
    } catch (error) {
      await this.engine.remove(id).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The function's secrets, opened, as the adapter's launcher reads them on stdin (a JSON array of NAME=VALUE):
   * given in the environment, the engine would show them in `docker inspect` and keep them on its disk.
   */
  private secretsOnStdin(fn: FunctionSpec): string | undefined {
    const sealed = Object.entries(fn.secrets ?? {});
    if (sealed.length === 0) return undefined;
    return JSON.stringify(sealed.map(([name, value]) => `${name}=${this.openSecret(value)}`));
  }

  resize(id: string, spec: ResourceSpec): Promise<void> {
    return this.engine.update(id, spec);
  }

  /** Unpauses (when frozen) and then gives back the active spec. */
  async wake(id: string, active: ResourceSpec, paused: boolean): Promise<void> {
    // One after the other: raising limits while the container is still frozen was seen to stall for 0.6 s.
    if (paused) await this.engine.unpause(id);
    await this.engine.update(id, active);
  }

  pause(id: string): Promise<void> {
    return this.engine.pause(id);
  }

  /** Memory in use as the engine's stats count it (about a second; the adapter's own figure is faster). */
  memoryUsage(id: string): Promise<number> {
    return this.engine.memoryUsage(id);
  }

  /** Takes back a running container after a runner restart; its state is read from the engine. */
  async adopt(summary: ContainerSummary, fn: FunctionSpec): Promise<Instance | undefined> {
    const details = await this.engine.inspect(summary.id);
    if (!details) return undefined;
    const now = this.clock.now();
    const reserved = Math.round(details.resources.cpus * 1e9) === Math.round(fn.reserved.cpus * 1e9);
    return {
      id: details.id,
      name: details.name,
      fn: fn.name,
      revision: Number(summary.labels[LABEL_REVISION] ?? fn.revision),
      address: adapterAddress(details, this.networks.nameFor(fn.name)),
      state: details.paused ? 'frozen' : reserved ? 'reserved' : 'active',
      stateSince: now,
      lastActiveAt: now,
      startedAt: now,
      readyAt: now,
      inflight: 0,
      edgeSessions: 0,
      edgeTotal: 0,
      spec: details.resources,
    };
  }

  /** The runner's instance containers on the engine, optionally of one function. */
  list(fn?: string): Promise<ContainerSummary[]> {
    const labels: Record<string, string> = { [LABEL_RUNNER]: this.runnerId };
    if (fn) labels[LABEL_FUNCTION] = fn;
    return this.engine.list(labels);
  }

  async logTail(id: string, lines = 12): Promise<string> {
    return (await this.engine.logs(id, lines).catch(() => '')).trim();
  }

  async isRunning(id: string): Promise<boolean> {
    const details = await this.engine.inspect(id).catch(() => undefined);
    return Boolean(details?.running);
  }

  /** Stops a container without removing it, so that the engine's account of its end can still be read. */
  async halt(id: string): Promise<void> {
    const details = await this.engine.inspect(id).catch(() => undefined);
    if (details?.running) await this.engine.stop(id).catch(() => undefined);
  }

  /** SIGTERM through the engine's stop: the adapter drains, runs pre-stop and stops the app; then it goes. */
  async stop(id: string): Promise<void> {
    await this.engine.stop(id).catch(() => undefined);
    await this.remove(id);
  }

  async remove(id: string): Promise<void> {
    await this.engine.remove(id).catch(() => undefined);
  }

  /** How a container ended: exit code, OOM kill, its memory limit and its last log lines. */
  async exitOf(id: string): Promise<ContainerExit> {
    const details = await this.inspectOnceReachable(id);
    const logTail = await this.logTail(id);
    if (!details) return { exitCode: undefined, oomKilled: false, memory: 0, logTail };
    return {
      exitCode: details.exitCode,
      oomKilled: details.oomKilled,
      memory: details.resources.memory,
      logTail,
    };
  }

  /** Inspects a container, waiting out an engine that does not answer (a restart) for up to a minute. */
  private async inspectOnceReachable(id: string): Promise<ContainerDetails | undefined> {
    const deadline = this.clock.now() + 60_000;
    for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
      const result = await this.engine.inspect(id).catch((error: Error) => error);
      if (!(result instanceof Error)) return result;
      const unreachable = 'unreachable' in result && result.unreachable === true;
      if (!unreachable || this.clock.now() + wait > deadline) return undefined;
      await sleep(wait);
    }
  }
}

/** The adapter's readiness, initializer, hooks and limits as its environment. */
function adapterEnv(settings: AdapterSettings | undefined): Record<string, string> {
  if (!settings) return {};
  const tcp = settings.readiness === 'tcp';
  return {
    [ENV.readiness]: tcp ? 'tcp' : 'http',
    ...(tcp
      ? {}
      : { [ENV.readinessPath]: settings.readiness, [ENV.readinessStatus]: settings.readyStatuses }),
    ...(settings.initializer ? { [ENV.initializer]: settings.initializer } : {}),
    [ENV.initializeTimeoutMs]: String(settings.initializerTimeoutMs),
    ...(settings.preStop ? { [ENV.preStop]: settings.preStop } : {}),
    ...(settings.preFreeze ? { [ENV.preFreeze]: settings.preFreeze } : {}),
    [ENV.hookTimeoutMs]: String(settings.hookTimeoutMs),
    [ENV.eventsPath]: settings.eventsPath,
    [ENV.maxEventBytes]: String(settings.maxEventBytes),
    ...(settings.maxBodyBytes === undefined ? {} : { [ENV.maxBodyBytes]: String(settings.maxBodyBytes) }),
  };
}

/** The adapter's address on the function's network (any network's, for a container made before them). */
function adapterAddress(details: ContainerDetails, network: string): string {
  const ip = details.addresses[network] ?? Object.values(details.addresses)[0];
  if (!ip) throw new Error(`container ${details.name} has no network address`);
  return `http://${ip}:${ADAPTER_PORT}`;
}

/** "exited with code 3", "was OOM-killed: memory limit exceeded (512m)". */
export function describeExit(exit: Pick<ContainerExit, 'exitCode' | 'oomKilled' | 'memory'>): string {
  if (exit.oomKilled) return `was OOM-killed: memory limit exceeded (${formatBytes(exit.memory)})`;
  if (exit.exitCode === undefined) return 'is gone (the engine has no exit code for it)';
  if (exit.exitCode === ADAPTER_EXIT.pidsLimit) return `reached its pids limit (exit code ${exit.exitCode})`;
  if (exit.exitCode === ADAPTER_EXIT.appStuck) {
    return `stopped answering: a request timed out with no answer begun meanwhile (exit code ${exit.exitCode})`;
  }
  if (exit.exitCode > 128) return `exited with code ${exit.exitCode} (signal ${exit.exitCode - 128})`;
  return `exited with code ${exit.exitCode}`;
}

import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { ADAPTER_PORT, type AdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { readAppImageConfig, type AppImageConfig } from '../adapter-runtime/image-config.js';
import { adapterContainerOptions } from '../adapter-runtime/mount-container.js';
import { demuxLogs } from '../../../engine/demux-stream.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import {
  LABEL_FUNCTION,
  LABEL_REVISION,
  LABEL_RUNNER,
  labelFilter,
  managedLabels,
} from '../../../engine/labels.js';
import type { Instance } from './instance.js';
import { FunctionNetworks } from './function-network.js';
import { AppNeverReadyError } from './instance-errors.js';
import { shrinkInstance, wakeInstance, type ShrinkResult } from './resize-instance.js';
import { formatBytes, hostConfigFor } from './resource-spec.js';
import { CONTROL_PATHS, ENV, HEADERS } from '../../../adapter/contract/contract.js';
import { sleep } from '../../../common/sleep.js';

export interface Clock {
  now(): number;
}

type NotFound = Error & { statusCode?: number };

/** How a container ended, as the engine tells it after the fact. */
export interface ContainerExit {
  exitCode: number | undefined;
  oomKilled: boolean;
  /** The memory limit it had when it ended, in bytes (0: none). */
  memory: number;
  logTail: string;
}

/** Creates, finds, resizes and stops a runner's instance containers on the engine. */
export class InstanceManager {
  readonly networks: FunctionNetworks;

  constructor(
    private readonly docker: Docker,
    private readonly runtime: AdapterRuntime,
    private readonly runnerId: string,
    private readonly clock: Clock = { now: () => Date.now() },
    /** CPUs an instance may use while it starts (a start-up boost); its active spec applies once it is ready. */
    private readonly bootCpus = 0,
  ) {
    this.networks = new FunctionNetworks(docker, runnerId);
  }

  private readonly imageConfigs = new Map<string, Promise<AppImageConfig>>();

  /** An image's config never changes for a given id: read it once, not on every cold start. */
  private imageConfig(imageRef: string): Promise<AppImageConfig> {
    let config = this.imageConfigs.get(imageRef);
    if (!config) {
      config = readAppImageConfig(this.docker, imageRef);
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

  /** Creates and starts a container at the active spec; it is 'starting' until waitReady says otherwise. */
  async start(fn: FunctionSpec, imageRef: string): Promise<Instance> {
    const name = `pilotlight-${fn.name}-r${fn.revision}-${randomBytes(3).toString('hex')}`;
    const options = adapterContainerOptions({
      ref: imageRef,
      image: await this.imageConfig(imageRef),
      runtime: this.runtime,
      appPort: fn.appPort,
      labels: this.labelsFor(fn),
      name,
      env: {
        ...fn.env,
        [ENV.function]: fn.name,
        [ENV.revision]: String(fn.revision),
        [ENV.instance]: name,
        [ENV.maxInflight]: String(fn.concurrency),
        [ENV.maxQueued]: String(fn.concurrency),
        [ENV.requestTimeoutMs]: String(fn.timeoutMs),
        [ENV.drainTimeoutMs]: String(fn.timeoutMs),
        [ENV.startupTimeoutMs]: String(fn.startupTimeoutMs),
        ...(fn.errorStatuses ? { [ENV.errorStatuses]: fn.errorStatuses } : {}),
      },
    });
    const network = await this.networks.ensure(fn.name);
    const boot = { cpus: Math.max(fn.active.cpus, this.bootCpus), memory: fn.active.memory };
    options.HostConfig = { ...options.HostConfig, ...hostConfigFor(boot), NetworkMode: network };
    // Docker's stop waits this long after SIGTERM: enough for the adapter to drain and run pre-stop.
    options.StopTimeout = Math.ceil(fn.timeoutMs / 1000) + 15;
    const container = await this.docker.createContainer(options).catch(async (error: NotFound) => {
      // The network was removed behind the runner's back (`docker network prune`): make it again, once.
      if (error.statusCode !== 404 || !/network/i.test(error.message)) throw error;
      this.networks.forget(fn.name);
      await this.networks.ensure(fn.name);
      return this.docker.createContainer(options);
    });
    await container.start();
    const info = await container.inspect();
    const now = this.clock.now();
    return {
      id: info.Id,
      name,
      fn: fn.name,
      revision: fn.revision,
      address: `http://${networkAddress(info, network)}:${ADAPTER_PORT}`,
      state: 'starting',
      startedAt: now,
      stateSince: now,
      lastActiveAt: now,
      inflight: 0,
      spec: boot,
    };
  }

  /** Ends the start-up boost: the instance gets its active spec. */
  async settle(instance: Instance, fn: FunctionSpec): Promise<void> {
    if (instance.spec.cpus === fn.active.cpus && instance.spec.memory === fn.active.memory) return;
    await this.docker.getContainer(instance.id).update(hostConfigFor(fn.active));
    instance.spec = fn.active;
  }

  /** Polls the adapter until the app is ready; a container that exits or a timeout brings its last log lines. */
  async waitReady(instance: Instance, timeoutMs: number): Promise<number> {
    const started = this.clock.now();
    let reason = 'no answer yet';
    while (this.clock.now() - started < timeoutMs) {
      const answer = await fetch(`${instance.address}${CONTROL_PATHS.ready}?wait=1000`, {
        headers: identity(instance),
        signal: AbortSignal.timeout(2000),
      }).then(
        async (response) => ({
          status: response.status,
          body: (await response.json()) as { reason?: string },
        }),
        (error: Error) => ({ status: 0, body: { reason: error.message } }),
      );
      if (answer.status === 200) return this.clock.now() - started;
      // The adapter's own reason (the last probe of the app) says more than a failed call to the adapter.
      if (answer.status === 503 && answer.body.reason) reason = answer.body.reason;
      else if (answer.status === 0 && reason === 'no answer yet')
        reason = `the adapter did not answer: ${answer.body.reason}`;
      if (answer.status === 503 && /not ready within|exited|could not be started/.test(reason)) break;
      if (answer.status === 0 && !(await this.isRunning(instance.id))) {
        reason = 'the container exited';
        break;
      }
      // Until the adapter listens, connections are refused at once: try again soon.
      await new Promise((resolve) => setTimeout(resolve, answer.status === 0 ? 2 : 0));
    }
    throw new AppNeverReadyError(instance.fn, reason, await this.logTail(instance.id));
  }

  async logTail(id: string, lines = 12): Promise<string> {
    try {
      const raw = (await this.docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, tail: lines })) as Buffer;
      return demuxLogs(raw).all.trim();
    } catch {
      return '';
    }
  }

  /** The runner's instance containers on the engine, optionally of one function. */
  async list(fn?: string): Promise<Docker.ContainerInfo[]> {
    const labels: Record<string, string> = { [LABEL_RUNNER]: this.runnerId };
    if (fn) labels[LABEL_FUNCTION] = fn;
    return this.docker.listContainers({ all: true, filters: labelFilter(labels) });
  }

  /** The state changes first, so a request arriving meanwhile waits for the resize and then wakes it. */
  async shrink(instance: Instance, fn: FunctionSpec): Promise<ShrinkResult> {
    const usage = await this.reportedMemory(instance);
    const before = { state: instance.state, stateSince: instance.stateSince, spec: instance.spec };
    try {
      // State and spec change together, before the update, so a request arriving meanwhile wakes it.
      return await shrinkInstance(this.docker.getContainer(instance.id), fn.reserved, usage, (target) => {
        instance.state = 'reserved';
        instance.stateSince = this.clock.now();
        instance.spec = target.applied;
      });
    } catch (error) {
      Object.assign(instance, before);
      throw error;
    }
  }

  async freeze(instance: Instance): Promise<void> {
    instance.state = 'frozen';
    instance.stateSince = this.clock.now();
    await fetch(`${instance.address}${CONTROL_PATHS.preFreeze}`, {
      headers: identity(instance),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    await this.docker.getContainer(instance.id).pause();
  }

  async wake(instance: Instance, fn: FunctionSpec): Promise<void> {
    await wakeInstance(this.docker.getContainer(instance.id), fn.active, instance.state === 'frozen');
    instance.state = 'active';
    instance.spec = fn.active;
    instance.stateSince = this.clock.now();
    instance.lastActiveAt = this.clock.now();
  }

  /** Takes back a running container after a runner restart; its state is read from the engine. */
  async adopt(info: Docker.ContainerInfo, fn: FunctionSpec): Promise<Instance> {
    const inspected = await this.docker.getContainer(info.Id).inspect();
    const now = this.clock.now();
    const reserved = inspected.HostConfig.NanoCpus === hostConfigFor(fn.reserved).NanoCpus;
    return {
      id: info.Id,
      name: inspected.Name.replace(/^\//, ''),
      fn: fn.name,
      revision: Number(info.Labels[LABEL_REVISION] ?? fn.revision),
      address: `http://${networkAddress(inspected, this.networks.nameFor(fn.name))}:${ADAPTER_PORT}`,
      state: inspected.State.Paused ? 'frozen' : reserved ? 'reserved' : 'active',
      stateSince: now,
      lastActiveAt: now,
      startedAt: now,
      readyAt: now,
      inflight: 0,
      spec: { cpus: (inspected.HostConfig.NanoCpus ?? 0) / 1e9, memory: inspected.HostConfig.Memory ?? 0 },
    };
  }

  /** Stops a container without removing it, so that the engine's account of its end can still be read. */
  async halt(id: string): Promise<void> {
    const container = this.docker.getContainer(id);
    const info = await container.inspect().catch(() => undefined);
    if (!info?.State.Running) return;
    if (info.State.Paused) await container.unpause().catch(() => undefined);
    await container.stop().catch(() => undefined);
  }

  /** SIGTERM through Docker's stop: the adapter drains, runs pre-stop and stops the app; then the container goes. */
  async stop(instance: Pick<Instance, 'id'>): Promise<void> {
    const container = this.docker.getContainer(instance.id);
    const info = await container.inspect().catch(() => undefined);
    if (info?.State.Paused) await container.unpause();
    await container.stop().catch(() => undefined);
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }

  /** The container's working set as the adapter reads it from its cgroup. */
  private async reportedMemory(instance: Instance): Promise<number | undefined> {
    const stats = await fetch(`${instance.address}${CONTROL_PATHS.stats}`, {
      headers: identity(instance),
      signal: AbortSignal.timeout(1000),
    })
      .then((response) => response.json() as Promise<{ containerMemoryBytes?: number | null }>)
      .catch(() => undefined);
    return stats?.containerMemoryBytes ?? undefined;
  }

  /** How a container ended: exit code, OOM kill, its memory limit and its last log lines. */
  async exitOf(id: string): Promise<ContainerExit> {
    const inspected = await this.inspectOnceReachable(id);
    const logTail = await this.logTail(id);
    if (inspected instanceof Error) {
      return { exitCode: undefined, oomKilled: false, memory: 0, logTail };
    }
    return {
      exitCode: inspected.State.Running ? undefined : inspected.State.ExitCode,
      oomKilled: inspected.State.OOMKilled,
      memory: inspected.HostConfig.Memory ?? 0,
      logTail,
    };
  }

  /** Inspects a container, waiting out an engine that does not answer (a restart) for up to a minute. */
  private async inspectOnceReachable(id: string): Promise<Docker.ContainerInspectInfo | Error> {
    const deadline = this.clock.now() + 60_000;
    for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
      const result = await this.docker
        .getContainer(id)
        .inspect()
        .catch((error: NotFound) => error);
      const unreachable = result instanceof Error && result.statusCode === undefined;
      if (!unreachable || this.clock.now() + wait > deadline) return result;
      await sleep(wait);
    }
  }

  async remove(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }

  private async isRunning(id: string): Promise<boolean> {
    const info = await this.docker
      .getContainer(id)
      .inspect()
      .catch(() => undefined);
    return Boolean(info?.State.Running);
  }
}

/** The container's address on the function's network (any network's, for a container made before them). */
function networkAddress(info: Docker.ContainerInspectInfo, network: string): string {
  const networks = info.NetworkSettings.Networks ?? {};
  const ip =
    networks[network]?.IPAddress || Object.values(networks).find((entry) => entry.IPAddress)?.IPAddress;
  if (!ip) throw new Error(`container ${info.Name} has no network address`);
  return ip;
}

/** Every call to an adapter names the instance it means: an address reused by another container is refused. */
export function identity(instance: Pick<Instance, 'name'>): Record<string, string> {
  return { [HEADERS.instance]: instance.name };
}

/** "exited with code 3", "was OOM-killed: memory limit exceeded (512m)". */
export function describeExit(exit: Pick<ContainerExit, 'exitCode' | 'oomKilled' | 'memory'>): string {
  if (exit.oomKilled) return `was OOM-killed: memory limit exceeded (${formatBytes(exit.memory)})`;
  if (exit.exitCode === undefined) return 'is gone (the engine has no exit code for it)';
  if (exit.exitCode > 128) return `exited with code ${exit.exitCode} (signal ${exit.exitCode - 128})`;
  return `exited with code ${exit.exitCode}`;
}

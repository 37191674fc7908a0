import type { Duplex, Readable } from 'node:stream';
import Docker from 'dockerode';
import { tarContext, type ContextFile } from './build-context.js';
import type {
  Confinement,
  ContainerCreate,
  ContainerDetails,
  ContainerEngine,
  ContainerSummary,
  EventFilter,
  ImageDetails,
  NetworkSummary,
  RegistryCredentials,
  Resources,
} from './container-engine.js';
import { demuxLogs, splitFrames } from './demux-stream.js';
import type { DockerEndpoint } from './docker-endpoint.js';
import {
  EngineError,
  ImageBuildError,
  NetworkNotFoundError,
  NetworkPoolExhaustedError,
} from './engine-errors.js';
import { followProgress, type ProgressEvent } from './follow-progress.js';
import { labelFilter } from './labels.js';
import { writeAndClose } from './write-and-close.js';

type EngineFailure = Error & { statusCode?: number; json?: { message?: string } | null };

/** An answer that means the work is already done: the call succeeds. */
type AlreadyDone = 'stopped' | 'gone' | 'paused' | 'not-paused' | 'exists' | 'removing';

/**
 * The engine's known answers, in one place: 304 (already stopped or started), 404 (no such container,
 * image or network), 409 (paused, not paused, already exists, removal in progress).
 */
function alreadyDone(error: EngineFailure): AlreadyDone | undefined {
  const message = engineMessage(error);
  if (error.statusCode === 304) return 'stopped';
  if (error.statusCode === 404) return 'gone';
  if (error.statusCode !== 409) return undefined;
  if (/is not paused/i.test(message)) return 'not-paused';
  if (/is already paused/i.test(message)) return 'paused';
  if (/already in progress/i.test(message)) return 'removing';
  if (/already exists/i.test(message)) return 'exists';
  if (/is paused/i.test(message)) return 'paused';
  return undefined;
}

function engineMessage(error: EngineFailure): string {
  return (error.json?.message ?? error.message).trim();
}

/**
 * The engine's 404 for a network that does not exist: at create, or at start (engines before 23 accept the
 * create and find out only then).
 */
function missingNetwork(failure: EngineFailure, network?: string): NetworkNotFoundError | undefined {
  const message = engineMessage(failure);
  if (failure.statusCode !== 404 || !/network/i.test(message) || /no such container/i.test(message)) {
    return undefined;
  }
  const name = network ?? /network (\S+) not found/i.exec(message)?.[1] ?? 'of the container';
  return new NetworkNotFoundError(name, message);
}

/** Passes the answers in `accepted` as success; anything else becomes an EngineError. */
function tolerate(...accepted: AlreadyDone[]) {
  return (error: EngineFailure): void => {
    const done = alreadyDone(error);
    if (done && accepted.includes(done)) return;
    throw asEngineError(error);
  };
}

function asEngineError(error: EngineFailure): Error {
  if (error instanceof EngineError) return error;
  return new EngineError(engineMessage(error), error.statusCode);
}

function nanoCpus(cpus: number): number {
  return Math.round(cpus * 1e9);
}

export function hostResources(resources: Resources): {
  NanoCpus: number;
  Memory: number;
  MemorySwap: number;
} {
  return { NanoCpus: nanoCpus(resources.cpus), Memory: resources.memory, MemorySwap: resources.memory };
}

function confinementOptions(confinement: Confinement): Docker.HostConfig {
  return {
    CapDrop: confinement.capDrop,
    CapAdd: confinement.capAdd,
    SecurityOpt: confinement.noNewPrivileges ? ['no-new-privileges:true'] : [],
    PidsLimit: confinement.pidsLimit,
    ReadonlyRootfs: confinement.readOnlyRootfs,
    Tmpfs: Object.fromEntries(
      Object.entries(confinement.tmpfs).map(([path, bytes]) => [path, `rw,nosuid,nodev,size=${bytes}`]),
    ),
  };
}

function asList(value: string | string[] | null | undefined): string[] {
  if (!value) return [];
  return Array.isArray(value) ? value : [value];
}

/** The only code that talks to Docker: dockerode behind the ContainerEngine interface. */
export class DockerEngine implements ContainerEngine {
  constructor(private readonly docker: Docker) {}

  static at(endpoint: DockerEndpoint): DockerEngine {
    return new DockerEngine(
      endpoint.kind === 'socket'
        ? new Docker({ socketPath: endpoint.socketPath })
        : new Docker({ host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol }),
    );
  }

  async ping(): Promise<boolean> {
    return this.docker.ping().then(
      () => true,
      () => false,
    );
  }

  async capacity(): Promise<Resources> {
    const info = await this.docker.info().catch((error: EngineFailure) => {
      throw asEngineError(error);
    });
    return { cpus: info.NCPU, memory: info.MemTotal };
  }

  async create(spec: ContainerCreate): Promise<string> {
    const port = (number: number): string => `${number}/tcp`;
    const exposed = [...(spec.exposedPorts ?? []), ...(spec.publishedPorts ?? [])];
    const options: Docker.ContainerCreateOptions = {
      name: spec.name,
      Image: spec.image,
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
      Labels: spec.labels,
      ExposedPorts: Object.fromEntries(exposed.map((number) => [port(number), {}])),
      ...(spec.stopTimeoutSeconds === undefined ? {} : { StopTimeout: spec.stopTimeoutSeconds }),
      ...(spec.stdinAtStart ? { OpenStdin: true, StdinOnce: true } : {}),
      HostConfig: {
        Init: spec.init ?? false,
        Binds: spec.readOnlyMounts?.map((mount) => `${mount.source}:${mount.target}:ro`),
        PortBindings: spec.publishedPorts
          ? Object.fromEntries(
              spec.publishedPorts.map((number) => [port(number), [{ HostIp: '127.0.0.1', HostPort: '' }]]),
            )
          : undefined,
        ...(spec.resources ? hostResources(spec.resources) : {}),
        ...(spec.network ? { NetworkMode: spec.network } : {}),
        ...(spec.confinement ? confinementOptions(spec.confinement) : {}),
        ...(spec.logLimit
          ? {
              LogConfig: {
                Type: 'json-file',
                Config: {
                  'max-size': String(spec.logLimit.maxFileBytes),
                  'max-file': String(spec.logLimit.maxFiles),
                },
              },
            }
          : {}),
      },
      ...(spec.confinement?.user ? { User: spec.confinement.user } : {}),
    };
    try {
      return (await this.docker.createContainer(options)).id;
    } catch (error) {
      throw missingNetwork(error as EngineFailure, spec.network) ?? asEngineError(error as EngineFailure);
    }
  }

  async start(id: string, stdin?: string): Promise<void> {
    const container = this.docker.getContainer(id);
    // Attached before the start, so that nothing the container reads first is missed.
    const attached =
      stdin === undefined
        ? undefined
        : ((await container
            .attach({ stream: true, stdin: true, hijack: true })
            .catch((error: EngineFailure) => {
              throw asEngineError(error);
            })) as Duplex);
    try {
      await container.start().catch((error: EngineFailure) => {
        const gone = missingNetwork(error);
        if (gone) throw gone;
        tolerate('stopped')(error);
      });
    } catch (error) {
      attached?.destroy();
      throw error;
    }
    if (attached) await writeAndClose(attached, stdin!);
  }

  async inspect(id: string): Promise<ContainerDetails | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (alreadyDone(error as EngineFailure) === 'gone') return undefined;
      throw asEngineError(error as EngineFailure);
    }
    const addresses: Record<string, string> = {};
    for (const [network, entry] of Object.entries(info.NetworkSettings.Networks ?? {})) {
      if (entry.IPAddress) addresses[network] = entry.IPAddress;
    }
    const hostPorts: Record<number, number> = {};
    for (const [key, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const hostPort = bindings?.[0]?.HostPort;
      if (hostPort) hostPorts[Number.parseInt(key, 10)] = Number(hostPort);
    }
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      running: info.State.Running,
      paused: info.State.Paused,
      exitCode: info.State.Running ? undefined : info.State.ExitCode,
      oomKilled: info.State.OOMKilled,
      resources: { cpus: (info.HostConfig.NanoCpus ?? 0) / 1e9, memory: info.HostConfig.Memory ?? 0 },
      addresses,
      labels: info.Config.Labels ?? {},
      hostPorts,
    };
  }

  async update(id: string, resources: Resources): Promise<void> {
    await this.docker
      .getContainer(id)
      .update(hostResources(resources))
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      });
  }

  async pause(id: string): Promise<void> {
    await this.docker.getContainer(id).pause().catch(tolerate('paused'));
  }

  async unpause(id: string): Promise<void> {
    await this.docker.getContainer(id).unpause().catch(tolerate('not-paused'));
  }

  async stop(id: string): Promise<void> {
    const details = await this.inspect(id);
    if (!details) return;
    // A paused container cannot act on SIGTERM: it would sit out the whole stop timeout before SIGKILL.
    if (details.paused) await this.unpause(id);
    await this.docker.getContainer(id).stop().catch(tolerate('stopped', 'gone'));
  }

  async remove(id: string): Promise<void> {
    await this.docker.getContainer(id).remove({ force: true, v: true }).catch(tolerate('gone', 'removing'));
  }

  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const listed = await this.docker
      .listContainers({ all: true, filters: labelFilter(labels) })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      });
    return listed.map((info) => ({
      id: info.Id,
      name: (info.Names[0] ?? info.Id).replace(/^\//, ''),
      state: info.State,
      labels: info.Labels ?? {},
      addresses: Object.fromEntries(
        Object.entries(info.NetworkSettings?.Networks ?? {})
          .filter(([, entry]) => Boolean(entry.IPAddress))
          .map(([network, entry]) => [network, entry.IPAddress]),
      ),
    }));
  }

  async logs(id: string, tail: number): Promise<string> {
    const raw = (await this.docker
      .getContainer(id)
      .logs({ stdout: true, stderr: true, tail })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      })) as Buffer;
    return demuxLogs(raw).all;
  }

  async followLogs(id: string, tail: number, onText: (text: string) => void): Promise<() => void> {
    const stream = (await this.docker
      .getContainer(id)
      .logs({ stdout: true, stderr: true, tail, follow: true })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      })) as NodeJS.ReadableStream & { destroy?: () => void };
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      const { frames, rest } = splitFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const frame of frames) onText(frame.data.toString('utf8'));
    });
    return () => stream.destroy?.();
  }

  async memoryUsage(id: string): Promise<number> {
    const stats = (await this.docker
      .getContainer(id)
      .stats({ stream: false, 'one-shot': true } as { stream: false })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      })) as { memory_stats?: { usage?: number; stats?: Record<string, number> } };
    const memory = stats.memory_stats ?? {};
    const cache = memory.stats?.['total_inactive_file'] ?? memory.stats?.['inactive_file'] ?? 0;
    return Math.max(0, (memory.usage ?? 0) - cache);
  }

  async events(filter: EventFilter): Promise<NodeJS.ReadableStream> {
    return this.docker
      .getEvents({
        ...(filter.since === undefined ? {} : { since: filter.since }),
        filters: {
          type: [filter.type ?? 'container'],
          ...(filter.labels ? labelFilter(filter.labels) : {}),
          event: filter.actions,
        },
      })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      });
  }

  async inspectImage(ref: string): Promise<ImageDetails | undefined> {
    let info: Docker.ImageInspectInfo;
    try {
      info = await this.docker.getImage(ref).inspect();
    } catch (error) {
      if (alreadyDone(error as EngineFailure) === 'gone') return undefined;
      throw asEngineError(error as EngineFailure);
    }
    return {
      id: info.Id,
      entrypoint: asList(info.Config?.Entrypoint),
      cmd: asList(info.Config?.Cmd),
      exposedPorts: Object.keys(info.Config?.ExposedPorts ?? {})
        .filter((key) => key.endsWith('/tcp'))
        .map((key) => Number.parseInt(key, 10))
        .sort((a, b) => a - b),
      labels: info.Config?.Labels ?? {},
      repoDigests: info.RepoDigests ?? [],
    };
  }

  async pull(
    ref: string,
    credentials?: RegistryCredentials,
    onProgress?: (event: ProgressEvent) => void,
  ): Promise<void> {
    try {
      const stream = await this.docker.pull(ref, credentials ? { authconfig: credentials } : {});
      await followProgress(this.docker, stream as NodeJS.ReadableStream, onProgress);
    } catch (error) {
      throw asEngineError(error as EngineFailure);
    }
  }

  async build(files: ContextFile[], tag: string, labels: Record<string, string>): Promise<void> {
    const output: string[] = [];
    try {
      const stream = await this.docker.buildImage(tarContext(files), {
        t: tag,
        rm: true,
        forcerm: true,
        labels,
      } as Docker.ImageBuildOptions);
      await followProgress(this.docker, stream, (event) => {
        if (event.stream) output.push(event.stream);
      });
    } catch (error) {
      const recent = output.join('').trim().split('\n').slice(-12).join('\n');
      throw new ImageBuildError(tag, `${engineMessage(error as EngineFailure)}\n${recent}`);
    }
  }

  async importImage(tar: Readable, target: { repo: string; tag: string; changes: string[] }): Promise<void> {
    try {
      const stream = await this.docker.importImage(tar, target as object);
      await followProgress(this.docker, stream);
    } catch (error) {
      throw asEngineError(error as EngineFailure);
    }
  }

  async networkExists(name: string): Promise<boolean> {
    try {
      await this.docker.getNetwork(name).inspect();
      return true;
    } catch (error) {
      if (alreadyDone(error as EngineFailure) === 'gone') return false;
      throw asEngineError(error as EngineFailure);
    }
  }

  async createNetwork(spec: {
    name: string;
    labels: Record<string, string>;
    isolated: boolean;
  }): Promise<void> {
    try {
      await this.docker.createNetwork({
        Name: spec.name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: spec.labels,
        Options: spec.isolated ? { 'com.docker.network.bridge.enable_icc': 'false' } : {},
      });
    } catch (error) {
      const failure = error as EngineFailure;
      if (failure.statusCode === 409) return; // made meanwhile by a concurrent start
      if (/non-overlapping|address pool/i.test(engineMessage(failure))) {
        throw new NetworkPoolExhaustedError(spec.name, engineMessage(failure));
      }
      throw asEngineError(failure);
    }
  }

  async removeNetwork(name: string): Promise<void> {
    await this.docker.getNetwork(name).remove().catch(tolerate('gone'));
  }

  async listNetworks(labels: Record<string, string>): Promise<NetworkSummary[]> {
    const networks = await this.docker
      .listNetworks({ filters: labelFilter(labels) })
      .catch((error: EngineFailure) => {
        throw asEngineError(error);
      });
    return networks.map((network) => ({ name: network.Name, labels: network.Labels ?? {} }));
  }
}

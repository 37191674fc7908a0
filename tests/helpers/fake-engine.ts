import { PassThrough, type Readable } from 'node:stream';
import type {
  ContainerCreate,
  ContainerDetails,
  ContainerEngine,
  ContainerSummary,
  EventFilter,
  ImageDetails,
  NetworkSummary,
  Resources,
} from '../../engine/container-engine.js';
import type { ContextFile } from '../../engine/build-context.js';

/** A container as the fake keeps it: what `inspect` shows, the environment it was given, and its stdin. */
export type FakeContainer = Omit<ContainerDetails, 'hostPorts'> & {
  env: Record<string, string>;
  stdinAtStart: boolean;
  /** What start() gave a container created with `stdinAtStart`. */
  stdin?: string;
};

type Method = 'create' | 'start' | 'update' | 'pause' | 'unpause' | 'stop' | 'remove';

/**
 * An engine in memory: containers with states and addresses, networks, and an event stream the fake writes
 * the engine's JSON to. `hold` makes a call wait until released; `failNext` makes the next call fail.
 */
export class FakeEngine implements ContainerEngine {
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Map<string, Record<string, string>>();
  readonly calls: Array<{ method: Method; id: string; resources?: Resources }> = [];
  private readonly streams = new Set<PassThrough>();
  private readonly failures = new Map<Method, Error>();
  private readonly holds = new Map<Method, Promise<void>>();
  private nextId = 1;

  /** The next call of `method` fails with `error`. */
  failNext(method: Method, error: Error): void {
    this.failures.set(method, error);
  }

  /** Calls of `method` wait until the returned release is called. */
  hold(method: Method): () => void {
    let release!: () => void;
    this.holds.set(method, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.holds.delete(method);
      release();
    };
  }

  /** The container is removed behind the runner's back (`docker rm -f`): the engine says die, then destroy. */
  vanish(id: string): void {
    const container = this.containers.get(id);
    if (!container) throw new Error(`no container ${id}`);
    this.containers.delete(id);
    this.emit(id, 'kill', { signal: '9' });
    this.emit(id, 'die', { exitCode: '137' });
    this.emit(id, 'destroy', {});
  }

  /** Its network is removed behind the runner's back: it keeps running, with no address. */
  detach(id: string): void {
    this.mustFind(id).addresses = {};
  }

  /** Containers that carry this label value, in creation order. */
  byLabel(key: string, value: string): FakeContainer[] {
    return [...this.containers.values()].filter((container) => container.labels[key] === value);
  }

  private async enter(method: Method, id: string, resources?: Resources): Promise<void> {
    this.calls.push({ method, id, ...(resources ? { resources } : {}) });
    await this.holds.get(method);
    const failure = this.failures.get(method);
    if (failure) {
      this.failures.delete(method);
      throw failure;
    }
  }

  private emit(id: string, action: string, attributes: Record<string, string>): void {
    const line = JSON.stringify({
      Type: 'container',
      Action: action,
      Actor: { ID: id, Attributes: attributes },
    });
    for (const stream of this.streams) stream.write(`${line}\n`);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async capacity(): Promise<Resources> {
    return { cpus: 2, memory: 8 * 1024 ** 3 };
  }

  async create(spec: ContainerCreate): Promise<string> {
    const id = `c${String(this.nextId++).padStart(63, '0')}`;
    await this.enter('create', id);
    this.containers.set(id, {
      id,
      name: spec.name ?? id.slice(0, 12),
      labels: spec.labels,
      running: false,
      paused: false,
      exitCode: undefined,
      oomKilled: false,
      resources: spec.resources ?? { cpus: 0, memory: 0 },
      addresses: { [spec.network ?? 'bridge']: `10.0.0.${this.nextId}` },
      env: spec.env,
      stdinAtStart: spec.stdinAtStart ?? false,
    });
    return id;
  }

  async start(id: string, stdin?: string): Promise<void> {
    await this.enter('start', id);
    const container = this.mustFind(id);
    if (stdin !== undefined && !container.stdinAtStart)
      throw new Error(`${id} was not created to take stdin`);
    container.running = true;
    if (stdin !== undefined) container.stdin = stdin;
  }

  async inspect(id: string): Promise<ContainerDetails | undefined> {
    const container = this.containers.get(id);
    if (!container) return undefined;
    return { ...container, hostPorts: {}, resources: { ...container.resources } };
  }

  async update(id: string, resources: Resources): Promise<void> {
    await this.enter('update', id, resources);
    this.mustFind(id).resources = { ...resources };
  }

  async pause(id: string): Promise<void> {
    await this.enter('pause', id);
    this.mustFind(id).paused = true;
    this.emit(id, 'pause', {});
  }

  async unpause(id: string): Promise<void> {
    await this.enter('unpause', id);
    this.mustFind(id).paused = false;
  }

  async stop(id: string): Promise<void> {
    await this.enter('stop', id);
    const container = this.containers.get(id);
    if (!container?.running) return;
    container.running = false;
    container.paused = false;
    container.exitCode = 0;
    this.emit(id, 'die', { exitCode: '0' });
  }

  async remove(id: string): Promise<void> {
    await this.enter('remove', id);
    if (this.containers.delete(id)) this.emit(id, 'destroy', {});
  }

  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((container) => Object.entries(labels).every(([key, value]) => container.labels[key] === value))
      .map((container) => ({
        id: container.id,
        name: container.name,
        state: container.paused
          ? 'paused'
          : container.running
            ? 'running'
            : container.exitCode === undefined
              ? 'created'
              : 'exited',
        labels: container.labels,
        addresses: { ...container.addresses },
      }));
  }

  async logs(): Promise<string> {
    return '';
  }

  async followLogs(): Promise<() => void> {
    return () => {};
  }

  async memoryUsage(): Promise<number> {
    return 64 * 1024 ** 2;
  }

  async events(filter: EventFilter): Promise<NodeJS.ReadableStream> {
    const stream = new PassThrough();
    // Only container events are made here: a network stream stays quiet.
    if ((filter.type ?? 'container') !== 'container') return stream;
    this.streams.add(stream);
    stream.on('close', () => this.streams.delete(stream));
    return stream;
  }

  async inspectImage(ref: string): Promise<ImageDetails | undefined> {
    return {
      id: `sha256:${ref}`,
      entrypoint: [],
      cmd: ['serve'],
      exposedPorts: [3000],
      labels: {},
      repoDigests: [],
    };
  }

  async pull(): Promise<void> {}

  async build(_files: ContextFile[]): Promise<void> {}

  async importImage(_tar: Readable): Promise<void> {}

  async networkExists(name: string): Promise<boolean> {
    return this.networks.has(name);
  }

  async createNetwork(spec: { name: string; labels: Record<string, string> }): Promise<void> {
    this.networks.set(spec.name, spec.labels);
  }

  async removeNetwork(name: string): Promise<void> {
    this.networks.delete(name);
  }

  async listNetworks(labels: Record<string, string>): Promise<NetworkSummary[]> {
    return [...this.networks.entries()]
      .filter(([, own]) => Object.entries(labels).every(([key, value]) => own[key] === value))
      .map(([name, own]) => ({ name, labels: own }));
  }

  private mustFind(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (!container) {
      throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    }
    return container;
  }
}

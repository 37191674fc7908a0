/** One engine event about a container, reduced to what the runner acts on. */
export interface ContainerEvent {
  id: string;
  /** The container's own actions, and `disconnect` (a network event) when it was cut from a network. */
  action: string;
  /** Set on `die`. */
  exitCode?: number;
  /** Set on `kill`: the signal's number or name as the engine reports it. */
  signal?: string;
  /** The engine's time of the event in whole seconds (a reconnect resumes from it; replays are harmless). */
  time?: number;
}

/** Why the watch believes a container is gone or going. */
export type GoneCause =
  | { via: 'event'; action: 'die' | 'destroy'; exitCode?: number }
  | { via: 'event'; action: 'kill'; signal: string }
  | { via: 'sweep'; state: string }
  /** Still running, but on no network: its network was removed or it was disconnected. */
  | { via: 'detached' };

/** The two engine calls the watch needs; the engine client implements them, unit tests pass fakes. */
export interface WatchSource {
  /**
   * A stream of newline-delimited JSON events for the runner's containers, and the engine's network
   * `disconnect` events (which carry no labels), replayed from `since` (seconds).
   */
  events(since: number | undefined): Promise<NodeJS.ReadableStream>;
  /**
   * The runner's containers now, with their engine state (running, paused, exited, …) and whether they have
   * an address on any network (undefined when the source cannot tell).
   */
  list(): Promise<Array<{ id: string; state: string; networked?: boolean }>>;
}

export interface WatchOptions {
  source: WatchSource;
  /** Ids of the containers the runner currently routes to or is starting: only these can be "gone". */
  tracked: () => Iterable<string>;
  onGone: (id: string, cause: GoneCause) => void;
  /** An OOM kill inside the container (it may or may not die of it). */
  onOom: (id: string) => void;
  /** The container was paused (by the runner's own freeze, or by someone else). */
  onPaused?: (id: string) => void;
  /** A container of the runner's that has stopped and that nothing tracks, seen so by two sweeps in a row. */
  onOrphan?: (id: string) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** How often the full list-by-label reconcile runs, whatever the events say. */
  sweepMs?: number;
  /** Delays between reconnect attempts after the event stream ends; the last one repeats. */
  reconnectDelaysMs?: number[];
}

const STOPPED = new Set(['exited', 'dead']);

/**
 * Sweeps in a row that must see an untracked container still "created" before it is an orphan: one being
 * started right now is untracked and "created" too, for a moment (a failed start removes its own).
 */
const CREATED_ORPHAN_SWEEPS = 10;

/** Signals after which a container is about to stop: it takes no new requests from then on. */
const TERMINATING_SIGNALS = new Set(['9', '15', 'SIGKILL', 'SIGTERM', 'KILL', 'TERM']);

/**
 * Follows the engine's event stream for the runner's containers and reports those that die, are killed or
 * removed, the moment the engine says so. The stream is reopened after it ends (an engine restart), resuming
 * from the last event seen; a periodic sweep (list by label) catches whatever a lost event missed.
 */
export class ContainerWatch {
  private stream: NodeJS.ReadableStream | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastEventTime: number | undefined;
  private failures = 0;
  private sweeping = false;
  /** Something asked for a sweep while one was under way: its list may predate what was asked about. */
  private sweepAgain = false;
  /** Untracked stopped containers the last sweep saw: a second sighting makes them orphans. */
  private stoppedUntracked = new Set<string>();
  /** Untracked containers never started, with how many sweeps in a row have seen them so. */
  private createdUntracked = new Map<string, number>();
  /** Resolves each time the stream is (re)connected: tests and the first start wait on it. */
  connected: Promise<void>;
  private markConnected!: () => void;

  constructor(private readonly options: WatchOptions) {
    this.connected = this.nextConnection();
  }

  /** Opens the event stream and starts sweeping; waits a moment for the stream, never for long. */
  async start(): Promise<void> {
    this.stopped = false;
    void this.connect();
    const sweepMs = this.options.sweepMs ?? 2000;
    this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
    this.sweepTimer.unref();
    // Unref'd: a stream that answers at once must not leave a timer holding the process.
    await Promise.race([this.connected, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    clearTimeout(this.reconnectTimer);
    const stream = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    this.stream = undefined;
    stream?.destroy?.();
  }

  /** Lists the runner's containers and reports tracked ones that are absent or no longer running. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      // Taken before the list: a container tracked after the list was made is not judged by it.
      const tracked = new Set(this.options.tracked());
      const listed = await this.options.source.list();
      const byId = new Map(listed.map((container) => [container.id, container]));
      for (const id of tracked) {
        const container = byId.get(id);
        const state = container?.state ?? 'absent';
        if (state !== 'running' && state !== 'paused') this.options.onGone(id, { via: 'sweep', state });
        // Nothing can reach it any more, and its old address may now lead somewhere else.
        else if (container?.networked === false) this.options.onGone(id, { via: 'detached' });
      }
      const stopped = new Set(
        listed
          .filter((container) => STOPPED.has(container.state) && !tracked.has(container.id))
          .map((container) => container.id),
      );
      for (const id of stopped) if (this.stoppedUntracked.has(id)) this.options.onOrphan?.(id);
      this.stoppedUntracked = stopped;
      this.createdUntracked = new Map(
        listed
          .filter((container) => container.state === 'created' && !tracked.has(container.id))
          .map((container) => [container.id, (this.createdUntracked.get(container.id) ?? 0) + 1]),
      );
      for (const [id, sweeps] of this.createdUntracked) {
        if (sweeps >= CREATED_ORPHAN_SWEEPS) this.options.onOrphan?.(id);
      }
    } catch (error) {
      this.options.log('engine sweep failed', { error: (error as Error).message });
    } finally {
      this.sweeping = false;
      if (this.sweepAgain) {
        this.sweepAgain = false;
        void this.sweep();
      }
    }
  }

  /** A sweep now, or right after the one under way. */
  private sweepSoon(): void {
    if (this.sweeping) this.sweepAgain = true;
    else void this.sweep();
  }

  private nextConnection(): Promise<void> {
    return new Promise((resolve) => (this.markConnected = resolve));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.options.source.events(this.lastEventTime);
    } catch (error) {
      this.options.log('engine events unavailable', { error: (error as Error).message });
      return this.reconnectLater();
    }
    if (this.stopped) {
      (stream as { destroy?: () => void }).destroy?.();
      return;
    }
    this.stream = stream;
    if (this.failures > 0) this.options.log('engine events reconnected', { after: this.failures });
    this.failures = 0;
    this.markConnected();
    // Whatever happened while no stream was open is found by listing.
    this.sweepSoon();
    let pending = '';
    stream.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      let newline;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) this.handle(parseEvent(line));
      }
    });
    const ended = (): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.connected = this.nextConnection();
      this.reconnectLater();
    };
    stream.on('end', ended);
    stream.on('close', ended);
    stream.on('error', ended);
  }

  private reconnectLater(): void {
    if (this.stopped) return;
    const delays = this.options.reconnectDelaysMs ?? [50, 200, 500, 1000, 2000];
    const delay = delays[Math.min(this.failures, delays.length - 1)]!;
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private handle(event: ContainerEvent | undefined): void {
    if (!event) return;
    if (event.time !== undefined) this.lastEventTime = event.time;
    if (event.action === 'oom') return this.options.onOom(event.id);
    if (event.action === 'pause') return this.options.onPaused?.(event.id);
    // Cut from a network: the sweep tells whether it is still reachable on another, and if not, it is gone.
    if (event.action === 'disconnect') {
      if ([...this.options.tracked()].includes(event.id)) this.sweepSoon();
      return;
    }
    if (event.action === 'die' || event.action === 'destroy') {
      return this.options.onGone(event.id, {
        via: 'event',
        action: event.action,
        ...(event.exitCode === undefined ? {} : { exitCode: event.exitCode }),
      });
    }
    if (event.action === 'kill' && event.signal && TERMINATING_SIGNALS.has(event.signal)) {
      this.options.onGone(event.id, { via: 'event', action: 'kill', signal: event.signal });
    }
  }
}

/**
 * The engine's event JSON (`{"Type":"container","Action":"die","Actor":{"ID":…,"Attributes":{…}}}`); of the
 * network events, only a container's `disconnect`, with the container's id.
 */
export function parseEvent(line: string): ContainerEvent | undefined {
  let raw: {
    Type?: string;
    Action?: string;
    status?: string;
    id?: string;
    time?: number;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
  };
  try {
    raw = JSON.parse(line) as typeof raw;
  } catch {
    return undefined;
  }
  const attributes = raw.Actor?.Attributes ?? {};
  const time = typeof raw.time === 'number' ? { time: raw.time } : {};
  if (raw.Type === 'network') {
    const container = attributes['container'];
    return raw.Action === 'disconnect' && container
      ? { id: container, action: 'disconnect', ...time }
      : undefined;
  }
  if (raw.Type && raw.Type !== 'container') return undefined;
  const id = raw.Actor?.ID ?? raw.id;
  const action = raw.Action ?? raw.status;
  if (!id || !action) return undefined;
  const exitCode = attributes['exitCode'] === undefined ? undefined : Number(attributes['exitCode']);
  return {
    id,
    // "health_status: unhealthy" and "exec_start: sh" carry a detail after the colon.
    action: action.split(':')[0]!.trim(),
    ...(exitCode === undefined || !Number.isFinite(exitCode) ? {} : { exitCode }),
    ...(attributes['signal'] ? { signal: attributes['signal'] } : {}),
    ...time,
  };
}

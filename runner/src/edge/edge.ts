import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { sleep } from '../../../common/sleep.js';
import type { Instance } from '../instances/instance.js';
import { capacityWaitMs, type FunctionSpec } from '../spec/function-spec.js';
import { BackendPool, freeSlot, shapeOf, slotOf } from './backend-pool.js';
import {
  ACTIVATOR_SERVER,
  FREE_ADDRESS,
  renderEdgeConfig,
  renderFunctionsMap,
  renderSettingsMap,
  settingsValue,
  DEFAULT_EDGE_TUNING,
  type EdgeTuning,
  slotName,
  type EdgeBackend,
  type FunctionSettings,
  type EdgeListen,
  type EdgeSlot,
  type ServerState,
} from './edge-config.js';
import type { EdgePaths } from './edge-paths.js';
import { EdgeProcess } from './edge-process.js';
import { edgeAction, edgeCommand } from './edge-socket.js';
import { parseShowStat, type BackendStats, type ServerStats } from './edge-stats.js';
import { EpochMarks, mayBeOverdue, parseStreamDetail, parseStreams } from './overdue-streams.js';
import type { Routing } from './routing.js';
import {
  MAINT,
  configuredForm,
  formCommands,
  sameForm,
  serverForm,
  type FormChange,
  type ServerForm,
} from './server-form.js';

const CURRENT_WORKER = 'current';

/** How long a removed instance's slot may keep the requests it has before they are cut and it is freed. */
const FREE_WAIT_MS = 30_000;

/** How long a question about one instance's sessions waits for the master's CLI to answer again. */
const MASTER_PATIENCE_MS = 1000;

/**
 * How often servers are given what the old workers of a reload have finished: every 100 ms at first, and
 * half as often each time nothing has (long requests, WebSockets), down to once a second.
 */
const FINISHING_POLL_MS = 100;
const FINISHING_POLL_MAX_MS = 1000;

/**
 * How long after a reload the old workers' requests may stay unknown (the master's CLI does not answer) before
 * servers are given back whole: a worker's own count then bounds each instance, not the sum of all workers'.
 */
const FINISHING_UNKNOWN_MS = 5_000;

/** How long the master may take to say what the old workers have, asked right after a reload. */
const RIGHT_AFTER_RELOAD_MS = 500;

function serverId(backend: EdgeBackend, index: number): string {
  return `${backend.name}/${slotName(index)}`;
}

/** What of a backend its configuration fixes. */
interface BackendLayout {
  queueTimeoutMs: number;
  slots: number;
}

/** How long a WebSocket or other tunnel may stay idle, unless the function says otherwise. */
export const DEFAULT_TUNNEL_TIMEOUT_MS = 3600_000;

type Log = (msg: string, fields?: Record<string, unknown>) => void;

/** What a function's spec asks of its backend that can change at run time. */
export function settingsOf(spec: FunctionSpec): FunctionSettings {
  return {
    fn: spec.name,
    revision: spec.revision,
    timeoutMs: spec.timeoutMs,
    tunnelTimeoutMs: spec.tunnelTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS,
    activationWaitMs: capacityWaitMs(spec),
    maxBodyBytes: spec.adapter.maxBodyBytes,
  };
}

/**
 * The HAProxy edge as the runner keeps it: a view of every backend and server, written whole into the
 * configuration on a (seamless) reload and changed one server at a time through the Runtime API in between.
 * Every change goes through one queue, so a reload never races a server change.
 */
export class Edge implements Routing {
  private readonly pool: BackendPool;
  private readonly process: EdgeProcess;
  private live = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** The supervisor and the timeout keeper. */
  private readonly timers: NodeJS.Timeout[] = [];
  /** WebSockets found past their function's timeout, by worker and stream: when the edge took each. */
  private readonly tunnels = new Map<string, number>();
  /** When each worker's streams were made, from its listings (the current one's, and old ones' by pid). */
  private readonly epochMarks = new Map<string, EpochMarks>();
  /** Since when each function has had requests at the edge without a break, as the samples saw it. */
  private readonly busySince = new Map<string, number>();
  private lastHealth: 'answering' | 'gone' | 'unresponsive' = 'answering';
  private readonly upQuestions = new Map<string, Promise<boolean>>();
  private listen: EdgeListen;
  /**
   * Requests the old workers of reloads still have, open or queued, by server address (IP:PORT); undefined
   * from a reload until they are read: each instance is given only the rest (see server-form.ts).
   */
  private finishing: Map<string, number> | undefined = new Map();
  /** Since when the old workers' requests have been unknown. */
  private finishingUnknownSince = 0;
  /** When to look at them next, and how long after that. */
  private finishingLookAt = 0;
  private finishingEveryMs = FINISHING_POLL_MS;
  /** Each server as the current worker has it, by id (BACKEND/SLOT). */
  private applied = new Map<string, ServerForm>();
  /**
   * Each backend's queue timeout and slot count in the configuration the edge runs: after a reload that
   * failed, the view has backends (or slots) the edge does not.
   */
  private running = new Map<string, BackendLayout>();
  /** Counts starts and reloads: what was read of the old workers before one is stale after it. */
  private generation = 0;
  /** The reload queued and not begun, which changes needing one join. */
  private nextReload: Promise<void> | undefined;

  constructor(
    private readonly paths: EdgePaths,
    listen: EdgeListen,
    private readonly log: Log,
    private readonly tuning: EdgeTuning = DEFAULT_EDGE_TUNING,
  ) {
    this.listen = listen;
    this.process = new EdgeProcess(paths);
    this.pool = new BackendPool(readFunctionsMap(paths.functions));
  }

  get port(): number {
    return this.listen.port;
  }

  /**
   * Takes over a running edge (a seamless reload with this runner's view: no gap for its clients), or starts
   * one. Before this, changes only shape the view.
   */
  async open(): Promise<'adopted' | 'started'> {
    const opened = await this.serial(async () => {
      this.pool.opened();
      this.timers.push(
        this.whileLive(FINISHING_POLL_MS, 'following the old workers failed', () => this.followFinishing()),
      );
      if ((await this.process.running()) === undefined) {
        this.listen = { ...this.listen, port: await freePort(this.listen) };
        await this.load('start');
        this.live = true;
        return 'started' as const;
      }
      // Given port 0, a restarted runner keeps the port its edge serves on.
      if (this.listen.port === 0) this.listen = { ...this.listen, port: this.process.boundPort() ?? 0 };
      await this.load('reload');
      this.live = true;
      return 'adopted' as const;
    });
    if (opened === 'adopted') {
      await this.followFinishing(MASTER_PATIENCE_MS).catch((error: Error) =>
        this.log('following the old workers failed', { error: error.message }),
      );
    }
    return opened;
  }

  /** Starts the edge again, from the view, whenever its master is found gone. */
  supervise(everyMs = 1000): void {
    this.timers.push(this.whileLive(everyMs, 'edge restart failed', () => this.superviseOnce()));
  }

  /**
   * Asked outside the queue: a master slow to answer (re-executing, stopped) must not hold up the server
   * changes queued behind the question, such as a wake's. Only a restart takes the queue.
   */
  private async superviseOnce(): Promise<void> {
    const health = await this.process.health();
    if (health !== this.lastHealth) {
      if (health === 'unresponsive')
        this.log('edge master does not answer: it is left running, not replaced');
      if (health === 'answering' && this.lastHealth === 'unresponsive') this.log('edge master answers again');
      this.lastHealth = health;
    }
    if (health !== 'gone') return;
    await this.serial(async () => {
      if (!this.live || (await this.process.health()) !== 'gone') return;
      this.log('edge found stopped: starting it again');
      await this.load('start');
      this.log('edge started again', { port: this.listen.port });
    });
  }

  /** Stops supervising; with `stopEdge`, the edge finishes its requests and exits too. */
  async close(stopEdge: boolean): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.serial(async () => {
      this.live = false;
      if (stopEdge) await this.process.stop();
    });
  }

  /** The function's backend, with its settings: see BackendPool.place. */
  async declare(spec: FunctionSpec): Promise<void> {
    const outcome = await this.serial(async (): Promise<'reload' | void> => {
      const placement = this.pool.place(settingsOf(spec), shapeOf(spec), this.live);
      const { admin, settings: settingsMap, functions } = this.paths;
      if ('backend' in placement && !this.runsAsViewed(placement.backend)) return 'reload';
      switch (placement.kind) {
        case 'settings': {
          const { backend } = placement;
          this.writeMaps();
          if (!this.live) return;
          await edgeAction(
            admin,
            `set map ${settingsMap} ${backend.name} ${settingsValue(backend.settings!)}`,
          );
          return;
        }
        case 'assigned': {
          // Its settings first, so that the first request routed to it finds them.
          const { backend } = placement;
          this.writeMaps();
          await edgeAction(
            admin,
            `add map ${settingsMap} ${backend.name} ${settingsValue(backend.settings!)}`,
          );
          await edgeAction(admin, `add map ${functions} ${spec.name} ${backend.name}`);
          return;
        }
        case 'reload':
          return 'reload';
        default:
          return;
      }
    });
    if (outcome === 'reload') await this.reloadSoon();
  }

  /** Both maps as the view has them, for the next start or reload to load (or the current to read). */
  private writeMaps(): void {
    mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    const backends = this.pool.all();
    writeFileSync(this.paths.settings, renderSettingsMap(backends), { mode: 0o600 });
    writeFileSync(this.paths.functions, renderFunctionsMap(backends), { mode: 0o600 });
  }

  /**
   * No request is routed to the function from now on; its backend becomes a spare once its slots are free
   * (its instances are removed, each waiting for its requests to finish).
   */
  forget(fn: string): Promise<void> {
    return this.serial(async () => {
      const backend = this.pool.retire(fn);
      if (!backend) return;
      this.busySince.delete(fn);
      this.writeMaps();
      if (this.live) await edgeAction(this.paths.admin, `del map ${this.paths.functions} ${fn}`);
      await this.releaseIfFree(backend);
    });
  }

  private async releaseIfFree(backend: EdgeBackend): Promise<void> {
    if (!this.pool.releaseIfFree(backend)) return;
    this.writeMaps();
    if (this.live) await edgeAction(this.paths.admin, `del map ${this.paths.settings} ${backend.name}`);
  }

  /** Gives the instance a slot (its own, or a free one) with its address and maxconn, ready. */
  async serve(instance: Instance, maxconn: number): Promise<void> {
    const outcome = await this.serial(async (): Promise<'reload' | void> => {
      const backend = this.pool.of(instance.fn);
      const target = instance.target;
      if (!backend || !target) return;
      const taken: EdgeSlot = { instance: instance.name, address: target, maxconn, state: 'ready' };
      let index = slotOf(backend, instance.name);
      if (index === -1) index = backend.slots.findIndex((slot) => slot.instance === undefined);
      if (index === -1) {
        // Every slot taken (a rollout over a raised maximum): twice as many, by a seamless reload.
        index = backend.slots.length;
        backend.slots.push(...backend.slots.map(() => freeSlot(maxconn)));
        backend.slots[index] = taken;
        return 'reload';
      }
      const before = backend.slots[index]!;
      backend.slots[index] = taken;
      if (!this.runsAsViewed(backend)) return 'reload';
      await this.apply(backend, index, {
        address: before.address === target ? undefined : target,
        reup: true,
      });
    });
    if (outcome === 'reload') await this.reloadSoon();
  }

  /** Brings slot `index`'s server at the edge to the form its view and the old workers give it. */
  private async apply(backend: EdgeBackend, index: number, change: FormChange = {}): Promise<void> {
    if (!this.live) return;
    const id = serverId(backend, index);
    const after = this.formOf(backend.slots[index]!);
    for (const command of formCommands(id, this.applied.get(id) ?? MAINT, after, change)) {
      await edgeAction(this.paths.admin, command);
    }
    this.applied.set(id, after);
  }

  /** Whether the edge runs the backend as the view has it: else only a reload can change it. */
  private runsAsViewed(backend: EdgeBackend): boolean {
    const running = this.running.get(backend.name);
    return (
      running !== undefined &&
      running.queueTimeoutMs === backend.queueTimeoutMs &&
      running.slots >= backend.slots.length
    );
  }

  private formOf(slot: EdgeSlot): ServerForm {
    return formWithin(slot, this.finishing);
  }

  /**
   * Reads what the old workers still have at each address, and gives every server what they have finished
   * since: servers held whole at a reload are put in service, then raised as the old workers' requests end.
   */
  private async followFinishing(patienceMs = 0): Promise<void> {
    if (!this.live || this.finishing?.size === 0 || Date.now() < this.finishingLookAt) return;
    const before = this.finishing;
    const generation = this.generation;
    // Asked outside the queue: a master slow to answer must not hold up the server changes behind it.
    const read = await this.readFinishing(patienceMs);
    await this.serial(() => this.giveFinished(read, generation));
    const changed = before === undefined || !sameCounts(before, this.finishing);
    this.finishingEveryMs = changed
      ? FINISHING_POLL_MS
      : Math.min(2 * this.finishingEveryMs, FINISHING_POLL_MAX_MS);
    this.finishingLookAt = Date.now() + this.finishingEveryMs;
  }

  /** What the old workers have open or queued by address; undefined if the master does not answer. */
  private async readFinishing(
    patienceMs: number,
    timeoutMs?: number,
  ): Promise<Map<string, number> | undefined> {
    const old = await this.oldWorkerStats('show stat -1 4 -1', { patienceMs, timeoutMs });
    return old && finishingByAddress(old);
  }

  /**
   * `read`: what the old workers had, asked for in the edge's `generation` (one before a reload since would
   * not count the worker that reload made old); undefined when the master did not answer.
   */
  private async giveFinished(read: Map<string, number> | undefined, generation: number): Promise<void> {
    if (!this.live || this.finishing?.size === 0 || generation !== this.generation) return;
    if (read === undefined) {
      if (this.finishing !== undefined) return;
      if (Date.now() - this.finishingUnknownSince < FINISHING_UNKNOWN_MS) return;
      this.log('the old workers of a reload do not answer: each instance is given its whole concurrency');
    }
    this.finishing = read ?? new Map();
    for (const backend of this.pool.all()) {
      for (let index = 0; index < backend.slots.length; index += 1) {
        const id = serverId(backend, index);
        if (!sameForm(this.applied.get(id) ?? MAINT, this.formOf(backend.slots[index]!))) {
          await this.apply(backend, index);
        }
      }
    }
  }

  hold(instance: Instance): Promise<void> {
    return this.setState(instance, 'maint');
  }

  drain(instance: Instance): Promise<void> {
    return this.setState(instance, 'drain');
  }

  /**
   * No new requests from now on; the slot is freed once the requests it has are over (for a dead instance,
   * once their connections fail and they get their 502), never cutting them short before.
   */
  async remove(instance: Instance): Promise<void> {
    await this.setState(instance, 'maint');
    const deadline = Date.now() + FREE_WAIT_MS;
    while (this.live && Date.now() < deadline && (await this.sessions(instance).catch(() => 0)) > 0) {
      await sleep(100);
    }
    await this.serial(async () => {
      const held = this.pool.holding(instance.name);
      if (!held) return;
      held.backend.slots[held.index]!.instance = undefined;
      if (this.live) {
        await edgeCommand(this.paths.admin, `shutdown sessions server ${serverId(held.backend, held.index)}`);
      }
      await this.releaseIfFree(held.backend);
    });
  }

  /**
   * Requests at the edge for the instance: the current worker's, and those old workers still finish. An
   * instance with no slot here (one a restarted runner retires) can only have the old workers'.
   */
  async sessions(instance: Instance): Promise<number> {
    const held = this.pool.holding(instance.name);
    const address = held ? held.backend.slots[held.index]!.address : instance.target;
    if (!this.live || address === undefined) return 0;
    const command = `show stat ${held?.backend.name ?? '-1'} 4 -1`;
    const [answer, old] = await Promise.all([
      held ? edgeCommand(this.paths.admin, command) : Promise.resolve(''),
      // A drain or a shrink acts on this answer: worth waiting a moment for the master.
      this.oldWorkerStats(command, { patienceMs: MASTER_PATIENCE_MS }),
    ]);
    const server = held
      ? parseShowStat(answer).get(held.backend.name)?.servers.get(slotName(held.index))
      : undefined;
    const finishing = finishingByAddress(old ?? []).get(address) ?? 0;
    return (server ? server.sessions + server.queued : 0) + finishing;
  }

  /**
   * `show stat` as each old worker answers it. A reload leaves the old worker finishing the requests it had, to
   * the servers it had: the runner's changes since went to the current worker only, so its servers are known by
   * address, not by slot. The master's CLI is closed for a moment after a reload, while it re-executes itself:
   * it is asked again for up to patienceMs; undefined if it still does not answer (callers count none then,
   * but the following of a reload's old workers waits for an answer).
   */
  private async oldWorkerStats(
    command: string,
    { patienceMs = 0, timeoutMs }: { patienceMs?: number; timeoutMs?: number } = {},
  ): Promise<Array<Map<string, BackendStats>> | undefined> {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        const pids = await this.process.oldWorkers(timeoutMs);
        // A worker gone since answers with an error line, which reads as no stats.
        return await Promise.all(
          pids.map(async (pid) => parseShowStat(await this.process.askWorker(pid, command, timeoutMs))),
        );
      } catch {
        if (Date.now() >= deadline) return undefined;
        await sleep(50);
      }
    }
  }

  async openAt(ip: string): Promise<number> {
    if (!this.live) return 0;
    const command = 'show stat -1 4 -1';
    const [answer, old] = await Promise.all([
      edgeCommand(this.paths.admin, command),
      this.oldWorkerStats(command, { patienceMs: MASTER_PATIENCE_MS }),
    ]);
    return openTo([parseShowStat(answer), ...(old ?? [])], (address) => address.startsWith(`${ip}:`));
  }

  /** One question to the edge at a time per function, however many held requests ask it meanwhile. */
  hasServerUp(fn: string): Promise<boolean> {
    const name = this.pool.of(fn)?.name;
    if (!this.live || name === undefined) return Promise.resolve(false);
    let asking = this.upQuestions.get(fn);
    if (!asking) {
      asking = edgeCommand(this.paths.admin, `show stat ${name} 4 -1`)
        .then((answer) => {
          const servers = parseShowStat(answer).get(name)?.servers ?? new Map();
          return [...servers].some(
            // Not a held one (at weight 0): it takes requests only once given room.
            ([name, server]) =>
              name !== ACTIVATOR_SERVER && server.status.startsWith('UP') && server.weight > 0,
          );
        })
        .finally(() => this.upQuestions.delete(fn));
      this.upQuestions.set(fn, asking);
    }
    return asking;
  }

  /** Sessions and queues by function, each server named by the instance in its slot. */
  async sample(): Promise<Map<string, BackendStats>> {
    const byFunction = new Map<string, BackendStats>();
    if (!this.live) return byFunction;
    const command = 'show stat -1 6 -1';
    const [answer, answered] = await Promise.all([
      edgeCommand(this.paths.admin, command),
      this.oldWorkerStats(command),
    ]);
    const old = answered ?? [];
    const finishing = finishingByAddress(old);
    const all = parseShowStat(answer);
    for (const [fn, backend] of this.pool.serving()) {
      const name = backend.name;
      const stats = all.get(name);
      if (!stats) continue;
      const servers = new Map<string, ServerStats>();
      backend.slots.forEach((slot, index) => {
        const server = stats.servers.get(slotName(index));
        if (slot.instance === undefined || !server) return;
        servers.set(slot.instance, {
          ...server,
          sessions: server.sessions + (finishing.get(slot.address) ?? 0),
        });
      });
      const queued = old.reduce((sum, each) => sum + (each.get(name)?.queued ?? 0), stats.queued);
      byFunction.set(fn, { queued, servers });
      const open = queued + [...servers.values()].reduce((sum, server) => sum + server.sessions, 0);
      if (open === 0) this.busySince.delete(fn);
      else if (!this.busySince.has(fn)) this.busySince.set(fn, Date.now());
    }
    return byFunction;
  }

  /** Ends the requests past their function's timeout, every half second (see overdue-streams.ts). */
  enforceTimeouts(everyMs = 500): void {
    this.timers.push(this.whileLive(everyMs, 'ending overdue requests failed', () => this.endOverdue()));
  }

  /** Runs work every so often while the edge is live, one run at a time; a failure is logged. */
  private whileLive(everyMs: number, failure: string, work: () => Promise<unknown>): NodeJS.Timeout {
    let running = false;
    const timer = setInterval(() => {
      if (running || !this.live) return;
      running = true;
      void work()
        .catch((error: Error) => this.log(failure, { error: error.message }))
        .finally(() => (running = false));
    }, everyMs);
    return timer.unref();
  }

  /**
   * Ends, in every worker, the requests of a function that have been at the edge longer than its timeout;
   * an upgraded one (a WebSocket) excepted. While any function is busy, each worker's `show sess` is read
   * twice a second, which also dates the streams made since (EpochMarks); only the requests of functions busy
   * without a break for about their timeout (by the samples) are looked at closer.
   */
  async endOverdue(now = Date.now()): Promise<number> {
    if (!this.live || this.busySince.size === 0) return 0;
    const timeouts = new Map<string, number>();
    const streaks = new Map<string, number>();
    for (const [fn, backend] of this.pool.serving()) {
      const since = this.busySince.get(fn);
      const timeoutMs = backend.settings!.timeoutMs;
      if (since === undefined) continue;
      streaks.set(backend.name, since);
      if (now - since >= timeoutMs - 1000) timeouts.set(backend.name, timeoutMs);
    }
    const old = await this.process.oldWorkers().catch(() => [] as number[]);
    const workers = [
      { worker: CURRENT_WORKER, ask: (command: string) => edgeCommand(this.paths.admin, command) },
      ...old.map((pid) => ({
        worker: String(pid),
        ask: (command: string) => this.process.askWorker(pid, command),
      })),
    ];
    // A stream made before the longest timeout is overdue whatever its marks say.
    const markedSince =
      now - Math.max(0, ...[...this.pool.serving()].map(([, backend]) => backend.settings!.timeoutMs)) - 2000;
    let ended = 0;
    const seen = new Set<string>();
    for (const { worker, ask } of workers) {
      const sentAt = Date.now();
      const streams = parseStreams(await ask('show sess'));
      const marks = this.epochMarks.get(worker) ?? new EpochMarks();
      this.epochMarks.set(worker, marks);
      marks.note(streams, sentAt);
      marks.prune(markedSince);
      for (const stream of mayBeOverdue(streams, timeouts, ACTIVATOR_SERVER)) {
        // A WebSocket stays a candidate for as long as it is open: it is asked about once.
        const key = `${worker}/${stream.id}`;
        seen.add(key);
        const tunnelSince = this.tunnels.get(key);
        if (tunnelSince !== undefined && Math.abs(now - tunnelSince - stream.ageSeconds * 1000) < 2000)
          continue;
        const detail = parseStreamDetail(await ask(`show sess ${stream.id}`));
        if (detail?.tunnel) this.tunnels.set(key, detail.acceptedAt);
        if (!detail || detail.tunnel || detail.awaitingAnswer) continue;
        // Not before its connection was taken, a listing was sent before it was made, or its function's busy
        // streak began: on a kept-alive connection, the accept date is the end of the request before.
        const begun = Math.max(
          detail.acceptedAt,
          marks.madeAfter(stream) ?? Number.NEGATIVE_INFINITY,
          streaks.get(stream.backend) ?? Number.NEGATIVE_INFINITY,
        );
        const timeoutMs = timeouts.get(stream.backend)!;
        if (begun + timeoutMs > now) continue;
        await ask(`shutdown session ${stream.id}`);
        ended += 1;
        this.log('request ended past its timeout', {
          backend: stream.backend,
          timeoutMs,
          ageMs: now - begun,
        });
      }
    }
    for (const key of this.tunnels.keys()) if (!seen.has(key)) this.tunnels.delete(key);
    for (const worker of this.epochMarks.keys()) {
      if (worker !== CURRENT_WORKER && !old.includes(Number(worker))) this.epochMarks.delete(worker);
    }
    return ended;
  }

  private setState(instance: Instance, state: ServerState): Promise<void> {
    return this.serial(async () => {
      const held = this.pool.holding(instance.name);
      if (!held) return;
      held.backend.slots[held.index]!.state = state;
      await this.apply(held.backend, held.index);
    });
  }

  /**
   * One reload for all the changes that need one until it begins: it loads the whole view, so deploys that
   * each need a new backend at once make one reload, not one each.
   */
  private reloadSoon(): Promise<void> {
    this.nextReload ??= this.serial(async () => {
      this.nextReload = undefined;
      await this.reload();
    });
    return this.nextReload;
  }

  /**
   * A seamless reload. Its new worker starts with every instance's server held (the old workers' requests at
   * it are not known yet), and each is given the rest of its concurrency once they are (followFinishing).
   */
  private async reload(): Promise<void> {
    if (!this.live) return;
    await this.load('reload');
    // At once, before any reload queued behind: the master has just answered, so it is asked here, in the
    // queue, but only briefly; if it does not answer, the next look gives the servers back.
    const read = await this.readFinishing(0, RIGHT_AFTER_RELOAD_MS);
    await this.giveFinished(read, this.generation).catch((error: Error) =>
      this.log('following the old workers failed', { error: error.message }),
    );
  }

  /**
   * Starts the edge or reloads it with the view, the files it reads written first. Only once the new worker
   * runs is its state taken for the edge's: its servers' forms, its backends, and its streams' epochs, which
   * it counts from zero (the marks of the worker before go). A reload that fails leaves all as it was.
   */
  private async load(kind: 'start' | 'reload'): Promise<void> {
    this.writeMaps();
    const finishing = kind === 'start' ? new Map<string, number>() : undefined;
    const backends = this.pool.all();
    const forms = new Map<string, ServerForm>();
    const layout = new Map<string, BackendLayout>();
    for (const backend of backends) {
      layout.set(backend.name, { queueTimeoutMs: backend.queueTimeoutMs, slots: backend.slots.length });
      backend.slots.forEach((slot, index) =>
        forms.set(serverId(backend, index), configuredForm(formWithin(slot, finishing))),
      );
    }
    const config = renderEdgeConfig(this.paths, this.listen, backends, this.tuning, (slot) =>
      formWithin(slot, finishing),
    );
    if (kind === 'start') await this.process.start(config);
    else await this.process.reload(config);
    this.epochMarks.delete(CURRENT_WORKER);
    this.finishing = finishing;
    this.finishingUnknownSince = Date.now();
    this.finishingLookAt = 0;
    this.finishingEveryMs = FINISHING_POLL_MS;
    this.applied = forms;
    this.running = layout;
    this.generation += 1;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * What a slot's server is given (see server-form.ts), with what the old workers hold by address; all of each
 * instance's concurrency while that is not known.
 */
function formWithin(slot: EdgeSlot, finishing: Map<string, number> | undefined): ServerForm {
  if (slot.instance === undefined) return MAINT;
  return serverForm(slot, finishing ? (finishing.get(slot.address) ?? 0) : slot.maxconn);
}

function sameCounts(a: Map<string, number>, b: Map<string, number> | undefined): boolean {
  return b !== undefined && a.size === b.size && [...a].every(([address, count]) => b.get(address) === count);
}

/**
 * The old workers' open and queued requests by server address, of those that have any: by address, since the
 * backend an old worker had an instance in may serve another function since.
 */
function finishingByAddress(old: Array<Map<string, BackendStats>>): Map<string, number> {
  const byAddress = new Map<string, number>();
  for (const stats of old) {
    for (const backend of stats.values()) {
      for (const server of backend.servers.values()) {
        const open = server.sessions + server.queued;
        if (open > 0 && server.address !== FREE_ADDRESS) {
          byAddress.set(server.address, (byAddress.get(server.address) ?? 0) + open);
        }
      }
    }
  }
  return byAddress;
}

/** Sessions and queued requests, over the workers' stats, of the servers whose address `at` matches. */
function openTo(workers: Array<Map<string, BackendStats>>, at: (address: string) => boolean): number {
  let count = 0;
  for (const stats of workers) {
    for (const backend of stats.values()) {
      for (const server of backend.servers.values()) {
        if (at(server.address)) count += server.sessions + server.queued;
      }
    }
  }
  return count;
}

/** The functions map of an edge left running: `FUNCTION BACKEND` lines. */
function readFunctionsMap(file: string): Map<string, string> {
  const entries = new Map<string, string>();
  if (!existsSync(file)) return entries;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [fn, backend] = line.trim().split(/\s+/);
    if (fn && backend) entries.set(fn, backend);
  }
  return entries;
}

/** The port to bind: the one asked for when it is free (else one clear error), or any free one for 0. */
async function freePort(listen: EdgeListen): Promise<number> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, resolve);
    });
    return (server.address() as { port: number }).port;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PilotlightError(
      'PORT_IN_USE',
      `${listen.host}:${listen.port} ${code === 'EADDRINUSE' ? 'is already in use' : 'may not be used by this user'}: pass --port with another port (0 picks a free one)`,
      409,
    );
  } finally {
    server.close();
  }
}

import { createServer } from 'node:net';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { sleep } from '../../../common/sleep.js';
import type { Instance } from '../instances/instance.js';
import type { FunctionSpec } from '../spec/function-spec.js';
import {
  ACTIVATOR_SERVER,
  SERVER_HEALTH,
  backendName,
  renderEdgeConfig,
  type EdgeBackend,
  type EdgeListen,
  type EdgeServer,
  type ServerState,
} from './edge-config.js';
import type { EdgePaths } from './edge-paths.js';
import { EdgeProcess } from './edge-process.js';
import { edgeAction, edgeCommand } from './edge-socket.js';
import { parseShowStat, type BackendStats } from './edge-stats.js';
import type { Routing } from './routing.js';

/** How long a removed server may keep the requests it has before they are cut and it is deleted. */
const DELETE_WAIT_MS = 30_000;

/** How long a WebSocket or other tunnel may stay idle, unless the function says otherwise. */
export const DEFAULT_TUNNEL_TIMEOUT_MS = 3600_000;

type Log = (msg: string, fields?: Record<string, unknown>) => void;

/** The backend settings a function's spec gives (its servers aside). */
export function backendOf(spec: FunctionSpec): Omit<EdgeBackend, 'servers'> {
  return {
    fn: spec.name,
    revision: spec.revision,
    timeoutMs: spec.timeoutMs,
    tunnelTimeoutMs: spec.tunnelTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS,
    queueTimeoutMs: spec.startupTimeoutMs + 5_000,
    maxBodyBytes: spec.adapter.maxBodyBytes,
  };
}

function sameSettings(a: Omit<EdgeBackend, 'servers'>, b: Omit<EdgeBackend, 'servers'>): boolean {
  return (
    a.revision === b.revision &&
    a.timeoutMs === b.timeoutMs &&
    a.tunnelTimeoutMs === b.tunnelTimeoutMs &&
    a.queueTimeoutMs === b.queueTimeoutMs &&
    a.maxBodyBytes === b.maxBodyBytes
  );
}

/**
 * The HAProxy edge as the runner keeps it: a view of every backend and server, written whole into the
 * configuration on a (seamless) reload and changed one server at a time through the Runtime API in between.
 * Every change goes through one queue, so a reload never races a server change.
 */
export class Edge implements Routing {
  private readonly backends = new Map<string, EdgeBackend>();
  private readonly process: EdgeProcess;
  private live = false;
  private queue: Promise<unknown> = Promise.resolve();
  private supervisor: NodeJS.Timeout | undefined;
  private listen: EdgeListen;

  constructor(
    private readonly paths: EdgePaths,
    listen: EdgeListen,
    private readonly log: Log,
  ) {
    this.listen = listen;
    this.process = new EdgeProcess(paths);
  }

  get port(): number {
    return this.listen.port;
  }

  /**
   * Takes over a running edge (a seamless reload with this runner's view: no gap for its clients), or starts
   * one. Before this, changes only shape the view.
   */
  async open(): Promise<'adopted' | 'started'> {
    return this.serial(async () => {
      const running = await this.process.running();
      if (running === undefined) this.listen = { ...this.listen, port: await freePort(this.listen) };
      else if (this.listen.port === 0) this.listen = { ...this.listen, port: this.process.boundPort() ?? 0 };
      if (running !== undefined) await this.process.reload(this.config());
      else await this.process.start(this.config());
      this.live = true;
      return running === undefined ? 'started' : 'adopted';
    });
  }

  /** Starts the edge again, from the view, whenever its master is found gone. */
  supervise(everyMs = 1000): void {
    this.supervisor = setInterval(() => {
      void this.serial(async () => {
        if (!this.live || (await this.process.running()) !== undefined) return;
        this.log('edge found stopped: starting it again');
        await this.process.start(this.config());
      }).catch((error: Error) => this.log('edge restart failed', { error: error.message }));
    }, everyMs);
    this.supervisor.unref();
  }

  /** Stops supervising; with `stopEdge`, the edge finishes its requests and exits too. */
  async close(stopEdge: boolean): Promise<void> {
    if (this.supervisor) clearInterval(this.supervisor);
    await this.serial(async () => {
      this.live = false;
      if (stopEdge) await this.process.stop();
    });
  }

  declare(spec: FunctionSpec): Promise<void> {
    return this.serial(async () => {
      const settings = backendOf(spec);
      const existing = this.backends.get(spec.name);
      if (existing && sameSettings(existing, settings)) return;
      this.backends.set(spec.name, { ...settings, servers: existing?.servers ?? new Map() });
      await this.reload();
    });
  }

  forget(fn: string): Promise<void> {
    return this.serial(async () => {
      if (!this.backends.delete(fn)) return;
      await this.reload();
    });
  }

  serve(instance: Instance, maxconn: number): Promise<void> {
    return this.serial(async () => {
      const backend = this.backends.get(instance.fn);
      if (!backend || !instance.target) return;
      const known = backend.servers.get(instance.name);
      const server: EdgeServer = { name: instance.name, address: instance.target, maxconn, state: 'ready' };
      backend.servers.set(instance.name, server);
      if (!this.live) return;
      const id = `${backendName(instance.fn)}/${instance.name}`;
      if (known && known.address === server.address && known.maxconn === maxconn) {
        await edgeAction(this.paths.admin, `set server ${id} health up`);
        await edgeAction(this.paths.admin, `set server ${id} state ready`);
        return;
      }
      if (known) await this.deleteServer(id);
      await edgeAction(
        this.paths.admin,
        `add server ${id} ${server.address} maxconn ${maxconn} ${SERVER_HEALTH}`,
      );
      await edgeAction(this.paths.admin, `enable health ${id}`);
      await edgeAction(this.paths.admin, `enable server ${id}`);
    });
  }

  hold(instance: Instance): Promise<void> {
    return this.setState(instance, 'maint');
  }

  drain(instance: Instance): Promise<void> {
    return this.setState(instance, 'drain');
  }

  /**
   * No new requests from now on; the server itself goes once the requests it has are over (for a dead
   * instance, once their connections fail and they get their 502), never cutting them short before.
   */
  async remove(instance: Instance): Promise<void> {
    const id = `${backendName(instance.fn)}/${instance.name}`;
    const held = await this.serial(async () => {
      const backend = this.backends.get(instance.fn);
      if (!backend?.servers.delete(instance.name) || !this.live) return false;
      await edgeAction(this.paths.admin, `set server ${id} state maint`).catch(() => undefined);
      return true;
    });
    if (held) await this.deleteWhenUnused(id);
  }

  private async deleteWhenUnused(id: string): Promise<void> {
    const deadline = Date.now() + DELETE_WAIT_MS;
    for (;;) {
      const deleted = await this.serial(() =>
        edgeAction(this.paths.admin, `del server ${id}`).then(
          () => true,
          (error: Error) => /No such server|not found/i.test(error.message),
        ),
      );
      if (deleted || !this.live) return;
      if (Date.now() >= deadline) return this.serial(() => this.deleteServer(id));
      await sleep(100);
    }
  }

  async sessions(instance: Instance): Promise<number> {
    if (!this.live) return 0;
    const answer = await edgeCommand(this.paths.admin, `show stat ${backendName(instance.fn)} 4 -1`);
    const server = parseShowStat(answer).get(backendName(instance.fn))?.servers.get(instance.name);
    return server ? server.sessions + server.queued : 0;
  }

  async hasServerUp(fn: string): Promise<boolean> {
    if (!this.live) return false;
    const answer = await edgeCommand(this.paths.admin, `show stat ${backendName(fn)} 4 -1`);
    const servers = parseShowStat(answer).get(backendName(fn))?.servers ?? new Map();
    return [...servers].some(([name, server]) => name !== ACTIVATOR_SERVER && server.status.startsWith('UP'));
  }

  async sample(): Promise<Map<string, BackendStats>> {
    const byFunction = new Map<string, BackendStats>();
    if (!this.live) return byFunction;
    const all = parseShowStat(await edgeCommand(this.paths.admin, 'show stat -1 6 -1'));
    for (const fn of this.backends.keys()) {
      const stats = all.get(backendName(fn));
      if (stats) byFunction.set(fn, stats);
    }
    return byFunction;
  }

  private setState(instance: Instance, state: ServerState): Promise<void> {
    return this.serial(async () => {
      const server = this.backends.get(instance.fn)?.servers.get(instance.name);
      if (!server) return;
      server.state = state;
      if (this.live) {
        await edgeAction(
          this.paths.admin,
          `set server ${backendName(instance.fn)}/${instance.name} state ${state}`,
        );
      }
    });
  }

  /** Out of maintenance a server cannot be deleted; sessions still open on it are cut. */
  private async deleteServer(id: string): Promise<void> {
    await edgeAction(this.paths.admin, `set server ${id} state maint`).catch(() => undefined);
    await edgeCommand(this.paths.admin, `shutdown sessions server ${id}`).catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        await edgeAction(this.paths.admin, `del server ${id}`);
        return;
      } catch (error) {
        if (/No such server|not found/i.test((error as Error).message)) return;
        if (attempt >= 50) throw error;
        await sleep(20);
      }
    }
  }

  private async reload(): Promise<void> {
    if (this.live) await this.process.reload(this.config());
  }

  private config(): string {
    return renderEdgeConfig(this.paths, this.listen, [...this.backends.values()]);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
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

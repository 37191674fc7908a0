import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { sleep } from '../../../common/sleep.js';
import { edgeCommand } from './edge-socket.js';
import type { EdgePaths } from './edge-paths.js';
import { badRequestFile } from './edge-config.js';
import { isZombie } from '../../../common/proc-stat.js';
import { hopByHopLua } from './hop-by-hop.js';

export class EdgeStartError extends PilotlightError {
  constructor(message: string) {
    super('EDGE_FAILED', message, 500);
  }
}

const HAPROXY = process.env['PILOTLIGHT_HAPROXY'] ?? 'haproxy';

/** Runs haproxy with arguments; its exit code and what it printed. */
function haproxy(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(HAPROXY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      resolve({
        code: -1,
        output:
          error.code === 'ENOENT'
            ? "haproxy is not installed: run `runner setup` (it installs Debian's haproxy)"
            : error.message,
      }),
    );
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * How long the master's CLI may stay closed while the master re-executes itself. HAProxy 2.6's master does so on
 * every reload (to load the new configuration) and once more, right after forking the new worker, into wait mode
 * (also after a start): the CLI is closed meanwhile, even once the new worker answers.
 */
const MASTER_REEXEC_MS = 5_000;

/** The master as its CLI's `show proc` describes it: its pid, its reloads, and the failed ones since a success. */
interface MasterState {
  pid: number;
  reloads: number;
  failed: number;
}

function parseMaster(answer: string): MasterState | undefined {
  const line = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/m.exec(answer);
  return line ? { pid: Number(line[1]), reloads: Number(line[2]), failed: Number(line[3]) } : undefined;
}

/** The pids `show proc` lists under "old workers": those a reload left finishing what they had. */
export function parseOldWorkers(answer: string): number[] {
  const section = answer.split(/^# old workers\s*$/m)[1]?.split(/^#/m)[0] ?? '';
  return [...section.matchAll(/^(\d+)\s+worker\b/gm)].map((match) => Number(match[1]));
}

/** The lines of haproxy's output that say what is wrong. */
function alerts(output: string): string {
  const lines = output.split('\n').filter((line) => /ALERT|haproxy is not installed/.test(line));
  return (lines.length > 0 ? lines : output.split('\n').slice(-5)).join('\n').trim();
}

/**
 * HAProxy in master-worker mode, as a daemon of its own: it keeps serving when the runner dies, and a
 * restarted runner finds it again by its pid file and master socket.
 */
export class EdgeProcess {
  constructor(private readonly paths: EdgePaths) {}

  /**
   * The master's pid, as it gives it on its socket, when one is running. A master re-executing itself (its socket
   * closed) is waited for, not taken for a stopped edge: a second edge started beside it would take over the pid
   * file and the sockets' paths, and the first would keep serving out of reach of reload and stop.
   */
  async running(): Promise<number | undefined> {
    return (await this.master())?.pid;
  }

  /**
   * Whether the master answers, is gone, or is still this edge's process but does not answer (stopped, or
   * hung): then nothing can be done about it here but say so, since a second edge could not bind its port.
   */
  async health(): Promise<'answering' | 'gone' | 'unresponsive'> {
    if ((await this.running()) !== undefined) return 'answering';
    const pid = this.masterPid();
    return pid !== undefined && this.isEdge(pid) ? 'unresponsive' : 'gone';
  }

  /** The workers a reload left finishing their requests; none when the master cannot tell now. */
  async oldWorkers(timeoutMs?: number): Promise<number[]> {
    return parseOldWorkers(await edgeCommand(this.paths.master, 'show proc', timeoutMs));
  }

  /** A Runtime API command run by one worker, through the master. */
  askWorker(pid: number, command: string, timeoutMs?: number): Promise<string> {
    return edgeCommand(this.paths.master, `@!${pid} ${command}`, timeoutMs);
  }

  writeConfig(config: string): void {
    mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.paths.dir, 0o700);
    writeFileSync(this.paths.badRequest, badRequestFile(), { mode: 0o600 });
    writeFileSync(this.paths.lua, hopByHopLua(), { mode: 0o600 });
    // The maps are the view's to write (edge.ts); an edge started without one routes no function.
    for (const map of [this.paths.functions, this.paths.settings]) {
      if (!existsSync(map)) writeFileSync(map, '', { mode: 0o600 });
    }
    writeFileSync(`${this.paths.config}.new`, config, { mode: 0o600 });
  }

  /** Checks the new configuration, then makes it the current one; a bad one never reaches HAProxy. */
  async install(config: string): Promise<void> {
    this.writeConfig(config);
    const check = await haproxy(['-c', '-f', `${this.paths.config}.new`]);
    if (check.code !== 0) {
      throw new EdgeStartError(`the edge configuration was refused by haproxy: ${alerts(check.output)}`);
    }
    writeFileSync(this.paths.config, config, { mode: 0o600 });
  }

  /** Starts the master and its worker; resolves once the worker answers on the admin socket. */
  async start(config: string): Promise<void> {
    const recorded = this.masterPid();
    if (recorded !== undefined && this.isEdge(recorded)) {
      throw new EdgeStartError(
        `the edge's master (pid ${recorded}) is running but does not answer on ${this.paths.master}: stop it (kill ${recorded}) and try again`,
      );
    }
    await this.install(config);
    const started = await haproxy([
      '-W',
      '-D',
      '-f',
      this.paths.config,
      '-p',
      this.paths.pid,
      '-S',
      `${this.paths.master},mode,600`,
    ]);
    if (started.code !== 0) {
      throw new EdgeStartError(`the edge (haproxy) did not start: ${alerts(started.output)}`);
    }
    await this.workerAnswers(undefined);
    // Its master re-executes into wait mode once the worker is forked: running once its socket answers.
    if ((await this.master(10_000, { justStarted: true })) === undefined) {
      const pid = this.masterPid();
      const state =
        pid === undefined ? 'no pid file' : alive(pid) ? `pid ${pid} running` : `pid ${pid} exited`;
      throw new EdgeStartError(`the edge's master did not answer on ${this.paths.master} (${state})`);
    }
  }

  /**
   * A seamless reload: the new worker takes the listening sockets from the old one, which finishes the
   * requests it has. Resolves once the new worker answers.
   */
  async reload(config: string): Promise<void> {
    await this.install(config);
    const master = await this.master();
    if (master === undefined) {
      throw new EdgeStartError(`the edge's master does not answer on ${this.paths.master}`);
    }
    const before = await this.workerPid();
    const answer = await edgeCommand(this.paths.master, 'reload');
    if (/fail|error/i.test(answer)) throw new EdgeStartError(`the edge did not reload: ${answer.trim()}`);
    await this.masterReloaded(master);
    await this.workerAnswers(before);
  }

  /** Soft stop: listeners close, requests in flight finish. */
  async stop(timeoutMs = 10_000): Promise<void> {
    // The master is the one answering on the master socket, and the pid file's if that one is another.
    const masters = new Set<number>();
    const answering = await this.master();
    if (answering !== undefined) masters.add(answering.pid);
    const recorded = this.masterPid();
    if (recorded !== undefined && this.isEdge(recorded)) masters.add(recorded);
    for (const pid of masters) signal(pid, 'SIGUSR1');
    const deadline = Date.now() + timeoutMs;
    while ([...masters].some(alive) && Date.now() < deadline) await sleep(20);
    for (const pid of masters) if (alive(pid)) signal(pid, 'SIGTERM');
  }

  /** The port the running edge's configuration binds (kept when a restarted runner is given port 0). */
  boundPort(): number | undefined {
    if (!existsSync(this.paths.config)) return undefined;
    const port = /^frontend edge\n\s+bind [^\n]*:(\d+)$/m.exec(readFileSync(this.paths.config, 'utf8'))?.[1];
    return port === undefined ? undefined : Number(port);
  }

  private masterPid(): number | undefined {
    if (!existsSync(this.paths.pid)) return undefined;
    const pid = Number(readFileSync(this.paths.pid, 'utf8').trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Whether the process is this edge's haproxy (a pid file outlives its process, and a pid is reused). */
  private isEdge(pid: number): boolean {
    if (!alive(pid)) return false;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // Empty in the middle of an exec (the master re-executes itself after every start and reload).
      if (cmdline === '') return true;
      return cmdline.split('\0').includes(this.paths.config);
    } catch {
      return alive(pid); // gone meanwhile, or no /proc to tell: the pid file is trusted
    }
  }

  /** The master as its socket describes it, waiting out a re-execution while the pid file's process is the edge's. */
  private async master(
    timeoutMs = MASTER_REEXEC_MS,
    { justStarted = false } = {},
  ): Promise<MasterState | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = parseMaster(await edgeCommand(this.paths.master, 'show proc', 2000).catch(() => ''));
      if (state !== undefined) return state;
      if (Date.now() >= deadline) return undefined;
      // An edge this runner just started is waited for; otherwise only while the pid file's process is one.
      const pid = this.masterPid();
      if (!justStarted && (pid === undefined || !this.isEdge(pid))) return undefined;
      await sleep(20);
    }
  }

  /** Waits until the master has re-executed with the new configuration and answers again (in wait mode). */
  private async masterReloaded(before: MasterState, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const now = parseMaster(await edgeCommand(this.paths.master, 'show proc', 2000).catch(() => ''));
      if (now?.pid === before.pid && now.reloads > before.reloads) {
        if (now.failed > 0) {
          throw new EdgeStartError(
            'the edge could not load its new configuration and keeps the previous one',
          );
        }
        return;
      }
      if (!alive(before.pid)) {
        throw new EdgeStartError(`the edge's master (pid ${before.pid}) exited during a reload`);
      }
      await sleep(10);
    }
    throw new EdgeStartError(
      `the edge's master did not answer on ${this.paths.master} within ${timeoutMs} ms of a reload`,
    );
  }

  private async workerPid(): Promise<string | undefined> {
    const info = await edgeCommand(this.paths.admin, 'show info', 2000).catch(() => '');
    return /^Pid: (\d+)/m.exec(info)?.[1];
  }

  private async workerAnswers(notPid: string | undefined, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pid = await this.workerPid();
      if (pid !== undefined && pid !== notPid) return;
      await sleep(10);
    }
    throw new EdgeStartError(
      `the edge's worker did not answer on ${this.paths.admin} within ${timeoutMs} ms`,
    );
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Whether the process runs. A zombie does not: a master killed while the runner is its reaper (a runner as a
 * container's pid 1, or a subreaper) stays one, and an init that reaps late leaves one for a while.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { sleep } from '../../../common/sleep.js';
import { edgeCommand } from './edge-socket.js';
import type { EdgePaths } from './edge-paths.js';
import { badRequestFile } from './edge-config.js';

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

  /** The master's pid, when one is running and answers on its socket. */
  async running(): Promise<number | undefined> {
    const pid = this.masterPid();
    if (pid === undefined || !alive(pid)) return undefined;
    const answer = await edgeCommand(this.paths.master, 'show proc', 2000).catch(() => '');
    return answer.includes('master') ? pid : undefined;
  }

  writeConfig(config: string): void {
    mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.paths.dir, 0o700);
    writeFileSync(this.paths.badRequest, badRequestFile(), { mode: 0o600 });
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
  }

  /**
   * A seamless reload: the new worker takes the listening sockets from the old one, which finishes the
   * requests it has. Resolves once the new worker answers.
   */
  async reload(config: string): Promise<void> {
    await this.install(config);
    const before = await this.workerPid();
    const answer = await edgeCommand(this.paths.master, 'reload');
    if (/fail|error/i.test(answer)) throw new EdgeStartError(`the edge did not reload: ${answer.trim()}`);
    await this.workerAnswers(before);
  }

  /** Soft stop: listeners close, requests in flight finish. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const pid = this.masterPid();
    if (pid === undefined || !alive(pid)) return;
    process.kill(pid, 'SIGUSR1');
    const deadline = Date.now() + timeoutMs;
    while (alive(pid) && Date.now() < deadline) await sleep(20);
    if (alive(pid)) process.kill(pid, 'SIGTERM');
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

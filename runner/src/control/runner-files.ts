import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PilotlightError } from '../../../common/pilotlight-error.js';

export interface RunnerInfo {
  pid: number;
  runnerId: string;
  gateway: string;
  control: string;
  /** With an https control URL: the certificate the control API serves (PEM), the one the CLI trusts. */
  controlCert?: string;
}

/** A random value kept in the data directory (the control token, the runner id), readable by its owner only. */
export function readOrCreateSecret(dataDir: string, file: string, bytes: number): string {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(bytes).toString('hex');
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}

export function writeRunnerInfo(dataDir: string, info: RunnerInfo): void {
  writeFileSync(join(dataDir, 'runner.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export function removeRunnerInfo(dataDir: string): void {
  rmSync(join(dataDir, 'runner.json'), { force: true });
}

export class RunnerNotRunningError extends PilotlightError {
  constructor(dataDir: string) {
    super(
      'RUNNER_NOT_RUNNING',
      `no runner is running for ${dataDir}: start one with \`runner up --data-dir ${dataDir}\``,
      503,
    );
  }
}

export function readRunnerInfo(dataDir: string): RunnerInfo & { token: string } {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, 'runner.json'), 'utf8')) as RunnerInfo;
    return { ...info, token: readFileSync(join(dataDir, 'token'), 'utf8').trim() };
  } catch {
    throw new RunnerNotRunningError(dataDir);
  }
}

export class RunnerAlreadyUpError extends PilotlightError {
  constructor(dataDir: string, pid: number) {
    super(
      'RUNNER_ALREADY_UP',
      `a runner (pid ${pid}) is already up with ${dataDir}: stop it first, or give this one another --data-dir`,
      409,
    );
  }
}

/** Refuses to start a second runner on a data directory whose runner is still alive (before it touches anything). */
export function ensureNoLiveRunner(dataDir: string): void {
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(join(dataDir, 'runner.json'), 'utf8')) as RunnerInfo).pid;
  } catch {
    return;
  }
  if (pid === process.pid || !isAlive(pid)) return;
  throw new RunnerAlreadyUpError(dataDir, pid);
}

/** A live process that is a runner (after a kill -9 its pid may have gone to something else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('runner');
  } catch {
    return true;
  }
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isZombie, procStat } from '../../common/proc-stat.js';

const DAEMON_CONFIG = '/etc/docker/daemon.json';

/** The pid of this machine's dockerd, when there is exactly one and it runs here (not behind a remote DOCKER_HOST). */
export function localDockerdPid(): number | undefined {
  const pids = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => commandOf(Number(pid))?.[0]?.endsWith('dockerd') === true)
    .map(Number);
  return pids.length === 1 ? pids[0] : undefined;
}

/**
 * Why this test process cannot restart the engine the way `runner setup` started it, or undefined when it can:
 * a local dockerd this process may signal, not one a service manager runs or daemon.json configures.
 */
export function whyEngineCannotRestart(): string | undefined {
  if (existsSync(DAEMON_CONFIG)) return `${DAEMON_CONFIG} configures the engine`;
  if (process.env['DOCKER_HOST'] && !process.env['DOCKER_HOST'].startsWith('unix:///var/run/docker.sock'))
    return 'DOCKER_HOST is not the local socket';
  if (process.getuid?.() !== 0) return 'restarting dockerd takes root';
  const pid = localDockerdPid();
  if (!pid) return 'no single local dockerd process';
  if (/\.service\b/.test(cgroupsOf(pid)))
    return 'dockerd is a service of the service manager, not started by runner setup';
  return undefined;
}

/** SIGTERM to dockerd, and returns once the process is gone (live-restore leaves its containers running). */
export async function stopDockerd(pid: number, timeoutMs = 30_000): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`dockerd (pid ${pid}) did not stop within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function commandOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

function cgroupsOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return '';
  }
}

function isRunning(pid: number): boolean {
  return procStat(pid) !== undefined && !isZombie(pid);
}

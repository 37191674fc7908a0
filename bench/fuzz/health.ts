/** Whether the edge and the instance lived through a fuzz run unchanged, and what memory they hold. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { edgeCommand } from '../../runner/src/edge/edge-socket.js';

export interface Liveness {
  edgeMaster: number;
  /** The master's current workers (not old ones still finishing after a reload). */
  edgeWorkers: number[];
  edgeReloads: number;
  container: { id: string; startedAt: string; restarts: number; running: boolean };
}

export async function observeLiveness(
  dataDir: string,
  docker: Docker,
  containerId: string,
): Promise<Liveness> {
  const edgeDir = join(dataDir, 'edge');
  const edgeMaster = Number(readFileSync(join(edgeDir, 'haproxy.pid'), 'utf8').trim().split('\n')[0]);
  const processes = parseShowProc(await edgeCommand(join(edgeDir, 'master.sock'), 'show proc'));
  const info = await docker.getContainer(containerId).inspect();
  return {
    edgeMaster,
    ...processes,
    container: {
      id: info.Id,
      startedAt: info.State.StartedAt,
      restarts: info.RestartCount,
      running: info.State.Running,
    },
  };
}

/** What changed that only a crash (or a restart) changes. */
export function crashesBetween(before: Liveness, after: Liveness): string[] {
  const crashes: string[] = [];
  if (!alive(after.edgeMaster) || after.edgeMaster !== before.edgeMaster) {
    crashes.push(`the edge's master ${before.edgeMaster} is gone (now ${after.edgeMaster})`);
  }
  // A reload replaces the workers on purpose; without one, a worker that changed has died.
  const lost = before.edgeWorkers.filter((pid) => !after.edgeWorkers.includes(pid));
  if (lost.length > 0 && after.edgeReloads === before.edgeReloads) {
    crashes.push(`edge workers ${lost.join(', ')} are gone (now ${after.edgeWorkers.join(', ')})`);
  }
  const [was, is] = [before.container, after.container];
  if (!is.running) crashes.push(`the instance's container ${is.id.slice(0, 12)} is not running`);
  if (is.startedAt !== was.startedAt || is.restarts !== was.restarts) {
    crashes.push(`the instance's container restarted (started ${was.startedAt} → ${is.startedAt})`);
  }
  return crashes;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The master CLI's `show proc`: the master's line carries its reload count, then `# workers` lists the
 * current workers, `# old workers` those finishing after a reload.
 */
function parseShowProc(answer: string): { edgeWorkers: number[]; edgeReloads: number } {
  let section = '';
  const edgeWorkers: number[] = [];
  let edgeReloads = 0;
  for (const line of answer.split('\n')) {
    if (line.startsWith('#')) {
      section = line.trim();
      continue;
    }
    const [pid, type, reloads] = line.trim().split(/\s+/);
    if (type === 'master') edgeReloads = Number(reloads);
    if (type === 'worker' && section === '# workers') edgeWorkers.push(Number(pid));
  }
  return { edgeWorkers, edgeReloads };
}

function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: the command may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Resident memory of the edge: its master and every worker (VmRSS), in bytes. */
export function edgeRss(master: number): number {
  return [master, ...childrenOf(master)].reduce((sum, pid) => sum + vmRss(pid), 0);
}

function vmRss(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The container's memory in use as `docker stats` counts it: the cgroup's usage less inactive page cache. */
export async function containerMemory(docker: Docker, containerId: string): Promise<number> {
  const stats = await docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
  const memory = stats.memory_stats as { usage?: number; stats?: Record<string, number> };
  const inactive = memory.stats?.['inactive_file'] ?? memory.stats?.['total_inactive_file'] ?? 0;
  return (memory.usage ?? 0) - inactive;
}

export interface MemoryBound {
  factor: number;
  slackBytes: number;
}

/**
 * Memory is back near its start when it is within 1.5 × start + 20 MB. Allocator arenas, V8's heap and
 * HAProxy's buffer pools grow with 64 connections at once and need not shrink all the way back after the
 * run (after 100,000 requests the instance was 20–40 % above its start, the edge under 20 %), while a leak of
 * 1 KB per request, 100 MB over a full run, stays well above the bound (about 155 MB for an instance that
 * starts at 90 MB, 53 MB for an edge at 22 MB).
 */
export const MEMORY_BOUND: MemoryBound = { factor: 1.5, slackBytes: 20 * 1024 ** 2 };

export function withinBound(start: number, now: number, bound = MEMORY_BOUND): boolean {
  return now <= start * bound.factor + bound.slackBytes;
}

/**
 * The lowest of READ's readings, once a second for DURATION: memory with as little garbage as the heaps let
 * go of when the load stops, so that a start and an end are read alike.
 */
export async function quietMemory(read: () => Promise<number>, durationMs: number): Promise<number> {
  const deadline = Date.now() + durationMs;
  let lowest = await read();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    lowest = Math.min(lowest, await read());
  }
  return lowest;
}

/** Polls READ until it is within the bound of START or TIMEOUT passes; the last reading. */
export async function settledMemory(
  start: number,
  read: () => Promise<number>,
  timeoutMs: number,
): Promise<{ bytes: number; settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bytes = await read();
    if (withinBound(start, bytes)) return { bytes, settled: true };
    if (Date.now() >= deadline) return { bytes, settled: false };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

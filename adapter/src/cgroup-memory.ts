import { readFileSync } from 'node:fs';

/**
 * The container's memory as its cgroup counts it (cgroup v2 or v1), less reclaimable page cache: what the
 * runner must leave room for when it lowers the limit. Read from inside, so it costs microseconds, where
 * the Engine's stats call takes a second.
 */
export function containerWorkingSetBytes(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = readNumber(`${root}/memory.current`);
  if (v2 !== undefined) return Math.max(0, v2 - (statField(`${root}/memory.stat`, 'inactive_file') ?? 0));
  const v1 = readNumber(`${root}/memory/memory.usage_in_bytes`);
  if (v1 !== undefined)
    return Math.max(0, v1 - (statField(`${root}/memory/memory.stat`, 'total_inactive_file') ?? 0));
  return undefined;
}

/** A file holding one number (`pids.max`, `memory.current`); undefined when absent or not a number (`max`). */
export function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function statField(path: string, field: string): number | undefined {
  try {
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .find((row) => row.startsWith(`${field} `));
    return line ? Number(line.split(' ')[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** How many processes the kernel's OOM killer has killed in this container so far (cgroup v2 or v1). */
export function oomKillCount(root = '/sys/fs/cgroup'): number | undefined {
  return (
    keyedField(`${root}/memory.events`, 'oom_kill') ??
    keyedField(`${root}/memory/memory.oom_control`, 'oom_kill')
  );
}

/** The container's memory limit in bytes; undefined when there is none or it cannot be read. */
export function memoryLimitBytes(root = '/sys/fs/cgroup'): number | undefined {
  const limit = readNumber(`${root}/memory.max`) ?? readNumber(`${root}/memory/memory.limit_in_bytes`);
  // cgroup v1 says "no limit" with a number near 2^63.
  return limit !== undefined && limit < 2 ** 60 ? limit : undefined;
}

/** One `KEY VALUE` line's value of a cgroup file such as `memory.events` or `pids.events`. */
export function keyedField(path: string, field: string): number | undefined {
  const value = statField(path, field);
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

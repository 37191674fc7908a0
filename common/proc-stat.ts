import { readFileSync } from 'node:fs';

/**
 * The fields of `/proc/PID/stat` after the command name: the state (`R`, `S`, `Z`…) first, then the parent's
 * pid. Undefined when the process is gone or there is no /proc to tell.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command in parentheses may hold spaces and parentheses: the fields after its last `)` are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether the process has exited and waits to be reaped (a zombie), or is being torn down. */
export function isZombie(pid: number): boolean {
  return /^[ZX]$/.test(procStat(pid)?.[0] ?? '');
}

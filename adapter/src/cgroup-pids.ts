import { keyedField, readNumber } from './cgroup-memory.js';

/** The container's pids cgroup (v2, or v1's pids controller): its limit and how often a fork hit it. */
export function pidsCgroup(root = '/sys/fs/cgroup'): { limit: number | undefined; hits: number | undefined } {
  for (const dir of [root, `${root}/pids`]) {
    const hits = keyedField(`${dir}/pids.events`, 'max');
    if (hits !== undefined) return { limit: readNumber(`${dir}/pids.max`), hits };
  }
  return { limit: undefined, hits: undefined };
}

/**
 * Resolves with a reason once a process in the container has been refused a fork or a thread at the pids
 * limit: the app is then unreliable (its next fork or thread fails), so the instance is replaced, as after an
 * OOM kill. Checked every `everyMs`; `stop` ends the watch.
 */
export function watchPidsLimit(
  root?: string,
  everyMs = 1000,
): { reached: Promise<string>; stop: () => void } {
  const before = pidsCgroup(root).hits;
  let timer: NodeJS.Timeout | undefined;
  const reached = new Promise<string>((resolve) => {
    if (before === undefined) return;
    timer = setInterval(() => {
      const { limit, hits } = pidsCgroup(root);
      if (hits !== undefined && hits > before) {
        clearInterval(timer);
        resolve(`the app reached the pids limit (${limit ?? '?'} processes and threads)`);
      }
    }, everyMs);
    timer.unref();
  });
  return { reached, stop: () => clearInterval(timer) };
}

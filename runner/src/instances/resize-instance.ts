import type Docker from 'dockerode';
import { hostConfigFor, type ResourceSpec } from './resource-spec.js';

export interface ShrinkResult {
  /** The spec actually applied: memory may stay above the reserved spec to keep the app alive. */
  applied: ResourceSpec;
  /** Bytes the container was using when it was shrunk. */
  usageBytes: number;
  /** Why memory was not lowered all the way, when it was not. */
  note?: string;
}

/** Headroom kept above what the app uses when memory is lowered: a warm app must never be OOM-killed. */
export const MEMORY_HEADROOM = 1.25;
const MIN_HEADROOM_BYTES = 16 * 1024 ** 2;

/** Memory the app needs now, with headroom: the floor below which a shrink must not go. */
export function safeMemoryFloor(usageBytes: number): number {
  return Math.max(Math.ceil(usageBytes * MEMORY_HEADROOM), usageBytes + MIN_HEADROOM_BYTES);
}

export function shrinkTarget(reserved: ResourceSpec, usageBytes: number): ShrinkResult {
  const floor = safeMemoryFloor(usageBytes);
  if (floor <= reserved.memory) return { applied: reserved, usageBytes };
  return {
    applied: { cpus: reserved.cpus, memory: floor },
    usageBytes,
    note: `memory kept at ${floor} bytes: the app uses ${usageBytes}, above the reserved ${reserved.memory}`,
  };
}

/**
 * Shrinks a running container in place to the reserved spec (memory no lower than is safe). The usage comes
 * from the adapter when it can tell (fast); otherwise from the Engine's stats (about a second).
 */
export async function shrinkInstance(
  container: Docker.Container,
  reserved: ResourceSpec,
  knownUsageBytes?: number,
  /** Told the spec about to be applied, just before the update is sent. */
  onTarget: (result: ShrinkResult) => void = () => {},
): Promise<ShrinkResult> {
  const usage = knownUsageBytes ?? (await memoryUsage(container));
  const result = shrinkTarget(reserved, usage);
  onTarget(result);
  await container.update(hostConfigFor(result.applied));
  return result;
}

/** Gives a container back its active spec, unpausing it first when it was frozen. */
export async function wakeInstance(
  container: Docker.Container,
  active: ResourceSpec,
  paused: boolean,
): Promise<void> {
  // One after the other: raising limits while the container is still frozen was seen to stall for 0.6 s.
  // One unpaused by someone else meanwhile is fine as it is.
  if (paused) await container.unpause().catch(ignoreNotPaused);
  await container.update(hostConfigFor(active));
}

function ignoreNotPaused(error: Error & { statusCode?: number }): void {
  if (!(error.statusCode === 409 && /not paused/i.test(error.message))) throw error;
}

/** Memory in use as the kernel counts it for the OOM killer (usage less reclaimable page cache). */
export async function memoryUsage(container: Docker.Container): Promise<number> {
  const stats = (await container.stats({ stream: false, 'one-shot': true } as { stream: false })) as {
    memory_stats?: { usage?: number; stats?: Record<string, number> };
  };
  const memory = stats.memory_stats ?? {};
  const cache = memory.stats?.['total_inactive_file'] ?? memory.stats?.['inactive_file'] ?? 0;
  return Math.max(0, (memory.usage ?? 0) - cache);
}

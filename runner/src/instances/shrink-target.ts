import type { ResourceSpec } from './resource-spec.js';

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

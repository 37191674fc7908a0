/** `firstMs` at step 0, doubling with each step, never above `maxMs`: the shape of every backoff here. */
export function doublingDelay(step: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, step));
}

/**
 * Crash-loop backoff for a function whose instances keep dying. Pure: the reconciler holds starts until
 * `holdStartsUntil` and the activator answers 503 meanwhile. The first death of a healthy function is
 * replaced at once; each further death that follows a short run doubles the wait, up to a cap; a run that
 * lasted `healthyAfterMs` before dying starts the count again.
 */

export interface CrashBackoffConfig {
  /** The wait after the second death in a row. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** An instance that served at least this long before it died was healthy: its death starts a new count. */
  healthyAfterMs: number;
}

export function defaultCrashBackoffConfig(): CrashBackoffConfig {
  return { firstDelayMs: 1000, maxDelayMs: 60_000, healthyAfterMs: 60_000 };
}

export interface Death {
  at: number;
  instance: string;
  /** How long the instance served after it became ready; undefined when it never did. */
  ranMs: number | undefined;
  /** What happened, in words: "exited with code 3", "was OOM-killed: memory limit exceeded (512m)". */
  reason: string;
}

export interface CrashState {
  /** Deaths in a row, each after a short run. */
  consecutive: number;
  /** Starts of new instances wait until then. */
  holdStartsUntil: number;
  last: Death | undefined;
}

export function initialCrashState(): CrashState {
  return { consecutive: 0, holdStartsUntil: 0, last: undefined };
}

export function afterDeath(state: CrashState, death: Death, config: CrashBackoffConfig): CrashState {
  const healthyRun = death.ranMs !== undefined && death.ranMs >= config.healthyAfterMs;
  const consecutive = healthyRun ? 1 : state.consecutive + 1;
  return { consecutive, holdStartsUntil: death.at + backoffDelay(consecutive, config), last: death };
}

/** 0 for the first death, then firstDelayMs doubling with each death in a row, never above maxDelayMs. */
export function backoffDelay(consecutive: number, config: CrashBackoffConfig): number {
  if (consecutive <= 1) return 0;
  return Math.min(config.maxDelayMs, config.firstDelayMs * 2 ** (consecutive - 2));
}

export function inBackoff(state: CrashState, now: number): boolean {
  return now < state.holdStartsUntil;
}

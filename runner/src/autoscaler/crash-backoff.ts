/**
 * Crash-loop backoff for a function whose instances keep dying. Pure: the reconciler holds starts until
 * `holdStartsUntil` and the activator answers 503 meanwhile. The first death of a healthy function is
 * replaced at once. A loop is a replacement that dies too: each death of an instance started after the last
 * counted death, after a short run, doubles the wait, up to a cap. Instances that die together (an engine
 * restart) count once; a death someone asked the engine for (`docker kill`, `docker rm -f`) does not count;
 * a run that lasted `healthyAfterMs` before dying starts the count again.
 */

import { doublingDelay } from '../../../common/doubling-delay.js';

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
  /** When the instance was started. */
  startedAt: number;
  /** Killed through the engine by someone (a kill signal it was sent), not dead of its own accord. */
  external: boolean;
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
  /** The last death, counted or not. */
  last: Death | undefined;
  /** When the last counted death happened. */
  countedAt: number;
}

export function initialCrashState(): CrashState {
  return { consecutive: 0, holdStartsUntil: 0, last: undefined, countedAt: -Infinity };
}

export function afterDeath(state: CrashState, death: Death, config: CrashBackoffConfig): CrashState {
  if (death.external) return { ...state, last: death };
  const healthyRun = death.ranMs !== undefined && death.ranMs >= config.healthyAfterMs;
  const replacementDied = death.startedAt > state.countedAt;
  if (!healthyRun && !replacementDied) return { ...state, last: death };
  const consecutive = healthyRun ? 1 : state.consecutive + 1;
  return {
    consecutive,
    holdStartsUntil: death.at + backoffDelay(consecutive, config),
    last: death,
    countedAt: death.at,
  };
}

/** 0 for the first death, then firstDelayMs doubling with each death in a row, never above maxDelayMs. */
export function backoffDelay(consecutive: number, config: CrashBackoffConfig): number {
  if (consecutive <= 1) return 0;
  return doublingDelay(consecutive - 2, config.firstDelayMs, config.maxDelayMs);
}

export function inBackoff(state: CrashState, now: number): boolean {
  return now < state.holdStartsUntil;
}

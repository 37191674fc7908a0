/**
 * What happens to an async event after an attempt. Pure: the dispatcher carries it out.
 *
 * - A function error (the app answered a status in the function's error ranges, or ran out of time) is
 *   retried up to `maxRetries` times, with backoff.
 * - A system error (no capacity, the instance died, a 429 or 503, the runner restarted mid-call) is retried
 *   with exponential backoff from 0.5 s up to 5 min, for as long as the event is younger than `maxEventAgeMs`.
 * - An event that can never succeed (malformed) fails at once. Past its maximum age an event expires.
 */

import { doublingDelay } from '../../../common/doubling-delay.js';

export type AttemptOutcome = 'succeeded' | 'function-error' | 'system-error' | 'rejected';

export interface RetryConfig {
  /** Retries after function errors, 0–8. */
  maxRetries: number;
  /** Past this age (from acceptance) an event is not tried again. */
  maxEventAgeMs: number;
}

export const FIRST_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 5 * 60_000;

export type NextStep =
  { state: 'succeeded' } | { state: 'failed' } | { state: 'expired' } | { state: 'retrying'; at: number };

export function nextStep(input: {
  outcome: AttemptOutcome;
  /** Attempts made so far, this one included. */
  attempts: number;
  /** Function errors so far, this one included. */
  functionErrors: number;
  acceptedAt: number;
  now: number;
  config: RetryConfig;
}): NextStep {
  const { outcome, config, now } = input;
  if (outcome === 'succeeded') return { state: 'succeeded' };
  if (outcome === 'rejected') return { state: 'failed' };
  if (outcome === 'function-error' && input.functionErrors > config.maxRetries) return { state: 'failed' };
  const at = now + backoffMs(input.attempts);
  if (at - input.acceptedAt > config.maxEventAgeMs) return { state: 'expired' };
  return { state: 'retrying', at };
}

/** 0.5 s, 1 s, 2 s, … doubling after each attempt, at most 5 min. */
export function backoffMs(attempts: number): number {
  return doublingDelay(attempts - 1, FIRST_BACKOFF_MS, MAX_BACKOFF_MS);
}

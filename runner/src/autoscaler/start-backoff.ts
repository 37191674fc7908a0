/**
 * Backoff for starts the engine refuses before an instance exists (it is restarting, out of addresses, its
 * network is gone): each failure in a row holds further starts for 0.5 s, doubling up to 10 s; a container
 * that starts clears it. Without it, every request waiting for capacity would ask for a start again at once.
 * Pure: the function's runtime holds the state, the planner reads `holdStartsUntil`.
 */

import { doublingDelay } from '../../../common/doubling-delay.js';

export interface StartBackoff {
  failures: number;
  holdStartsUntil: number;
}

export const FIRST_START_RETRY_MS = 500;
export const MAX_START_RETRY_MS = 10_000;

export function initialStartBackoff(): StartBackoff {
  return { failures: 0, holdStartsUntil: 0 };
}

export function afterStartFailure(state: StartBackoff, now: number): StartBackoff {
  const failures = state.failures + 1;
  return {
    failures,
    holdStartsUntil: now + doublingDelay(failures - 1, FIRST_START_RETRY_MS, MAX_START_RETRY_MS),
  };
}

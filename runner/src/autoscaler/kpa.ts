/**
 * The autoscaler, after Knative's KPA: a pure function of (metrics, now, config, previous state). It keeps no
 * clock and does no I/O; the caller passes the samples and the time and stores the returned state.
 */

export interface AutoscalerConfig {
  /** Requests one instance should hold at once (the function's --concurrency). */
  targetConcurrency: number;
  /** Scale so instances run at this fraction of their target (headroom for bursts). */
  targetUtilization: number;
  stableWindowMs: number;
  panicWindowMs: number;
  /** Panic when the panic window asks for this multiple of the ready instances (2 = 200 %). */
  panicThreshold: number;
  /** At most this many times the ready instances in one decision. */
  maxScaleUpRate: number;
  /** At least ready / rate instances are kept in one decision. */
  maxScaleDownRate: number;
  /** A scale-down takes effect only after the lower count was wanted for this long. */
  scaleDownDelayMs: number;
  minScale: number;
  maxScale: number;
}

export function defaultConfig(): AutoscalerConfig {
  return {
    targetConcurrency: 10,
    targetUtilization: 0.7,
    stableWindowMs: 60_000,
    panicWindowMs: 6_000,
    panicThreshold: 2,
    maxScaleUpRate: 1000,
    maxScaleDownRate: 2,
    scaleDownDelayMs: 30_000,
    minScale: 1,
    maxScale: 10,
  };
}

export interface AutoscalerState {
  /** When panic mode began, or undefined when stable. */
  panicSince: number | undefined;
  /** The highest count asked for during this panic: panic never scales down. */
  panicDesired: number;
  /** The highest raw recommendation of each recent second, for the scale-down delay. */
  recent: ReadonlyArray<{ at: number; desired: number }>;
}

export function initialState(): AutoscalerState {
  return { panicSince: undefined, panicDesired: 0, recent: [] };
}

export interface Decision {
  desired: number;
  mode: 'stable' | 'panic';
  stableConcurrency: number;
  panicConcurrency: number;
  state: AutoscalerState;
}

export function decide(input: {
  /** Average concurrency (in flight plus waiting) over the stable and the panic window. */
  concurrency: { stable: number; panic: number };
  readyInstances: number;
  now: number;
  config: AutoscalerConfig;
  state: AutoscalerState;
}): Decision {
  const { now, config, state } = input;
  const ready = Math.max(1, input.readyInstances);
  const perInstance = config.targetConcurrency * config.targetUtilization;

  const stableConcurrency = input.concurrency.stable;
  const panicConcurrency = input.concurrency.panic;
  const stableWant = Math.ceil(stableConcurrency / perInstance);
  const panicWant = Math.ceil(panicConcurrency / perInstance);

  const maxUp = Math.ceil(config.maxScaleUpRate * ready);
  const maxDown = Math.floor(ready / config.maxScaleDownRate);
  const limit = (count: number): number => Math.min(maxUp, Math.max(maxDown, count));

  let panicSince = state.panicSince;
  const overThreshold = panicWant / ready >= config.panicThreshold;
  if (overThreshold) panicSince = now;
  else if (panicSince !== undefined && now - panicSince >= config.stableWindowMs) panicSince = undefined;

  let raw: number;
  let panicDesired = 0;
  if (panicSince !== undefined) {
    // While panicking, the larger of the two windows' counts, and never lower than earlier in the panic.
    const earlier = state.panicSince !== undefined ? state.panicDesired : 0;
    panicDesired = Math.max(limit(panicWant), limit(stableWant), earlier);
    raw = panicDesired;
  } else {
    raw = limit(stableWant);
  }

  const recent = rememberHighest(state.recent, now, raw, config.scaleDownDelayMs);
  const delayed = recent.reduce((highest, entry) => Math.max(highest, entry.desired), 0);
  const desired = Math.min(config.maxScale, Math.max(config.minScale, delayed));

  return {
    desired,
    mode: panicSince !== undefined ? 'panic' : 'stable',
    stableConcurrency,
    panicConcurrency,
    state: { panicSince, panicDesired, recent },
  };
}

/**
 * The delay history with this decision in it: one entry a second (its highest count), none older than the
 * delay, so its size stays the same however often decisions are made.
 */
function rememberHighest(
  recent: ReadonlyArray<{ at: number; desired: number }>,
  now: number,
  desired: number,
  delayMs: number,
): Array<{ at: number; desired: number }> {
  const kept = recent.filter((entry) => now - entry.at < delayMs);
  const last = kept.at(-1);
  if (last && Math.floor(last.at / 1000) === Math.floor(now / 1000)) {
    kept[kept.length - 1] = { at: now, desired: Math.max(last.desired, desired) };
  } else {
    kept.push({ at: now, desired });
  }
  return kept;
}

/**
 * What to do with a function's instances, given the autoscaler's desired count and how long each one has
 * been idle. Pure: the reconciler carries the actions out on the engine.
 */

/**
 * `shrinking` and `freezing` last while the engine resizes or pauses the container: a request that arrives
 * meanwhile waits for that to finish and then wakes it.
 */
export type InstanceState =
  'starting' | 'active' | 'shrinking' | 'reserved' | 'freezing' | 'frozen' | 'draining';

export interface InstanceView {
  id: string;
  state: InstanceState;
  inflight: number;
  /** Last moment it had a request in flight (or was started or woken). */
  lastActiveAt: number;
  /** When it entered its current state. */
  stateSince: number;
}

export interface LifecycleConfig {
  minScale: number;
  /** Idle this long, a kept instance is shrunk to the reserved spec. */
  reserveAfterMs: number;
  /** Reserved this long, it is frozen (paused). */
  freezeAfterMs: number;
  /** With minScale 0, idle this long, the last instances go. */
  zeroAfterMs: number;
}

export function defaultLifecycleConfig(): LifecycleConfig {
  return { minScale: 1, reserveAfterMs: 30_000, freezeAfterMs: 120_000, zeroAfterMs: 300_000 };
}

export type InstanceAction =
  | { kind: 'start'; count: number }
  | { kind: 'drain'; id: string }
  | { kind: 'shrink'; id: string }
  | { kind: 'freeze'; id: string };

export function planInstances(input: {
  instances: ReadonlyArray<InstanceView>;
  /** Containers being created that are not instances yet. */
  pendingStarts?: number;
  /** Requests the activator holds for want of an instance with room. */
  waiting?: number;
  desired: number;
  now: number;
  config: LifecycleConfig;
  /** No instance is started before then (a crash-loop backoff). */
  holdStartsUntil?: number;
}): InstanceAction[] {
  const { instances, now, config } = input;
  const serving = instances.filter((instance) => instance.state !== 'draining');
  const idleFor = (instance: InstanceView): number =>
    instance.inflight > 0 ? 0 : now - instance.lastActiveAt;

  const keep = instancesToKeep(input.desired, serving, input.waiting ?? 0, idleFor, config);
  const actions: InstanceAction[] = [];
  const coming = serving.length + (input.pendingStarts ?? 0);
  const startsHeld = now < (input.holdStartsUntil ?? 0);
  if (coming < keep && !startsHeld) actions.push({ kind: 'start', count: keep - coming });

  // Surplus goes first from those not ready yet (as Kubernetes' ReplicaSet does), then those idle longest.
  const notReadyFirst = (instance: InstanceView): number => (instance.state === 'starting' ? 1 : 0);
  const surplus = [...serving]
    .sort((a, b) => notReadyFirst(b) - notReadyFirst(a) || idleFor(b) - idleFor(a))
    .slice(0, Math.max(0, serving.length - keep));
  for (const instance of surplus) actions.push({ kind: 'drain', id: instance.id });

  const drained = new Set(surplus.map((instance) => instance.id));
  const kept = serving.filter((instance) => !drained.has(instance.id));
  // Only the last instances (no more than the minimum) become pilot lights; above it they are drained.
  if (kept.length <= Math.max(config.minScale, 1)) {
    for (const instance of kept) {
      if (instance.state === 'active' && idleFor(instance) >= config.reserveAfterMs) {
        actions.push({ kind: 'shrink', id: instance.id });
      } else if (instance.state === 'reserved' && now - instance.stateSince >= config.freezeAfterMs) {
        actions.push({ kind: 'freeze', id: instance.id });
      }
    }
  }
  return actions;
}

/**
 * How many instances to keep: what the autoscaler wants, at least the minimum, at least one while requests
 * are in flight or waiting. When no request has come for a grace, the graces decide, not what the
 * autoscaler's windows still remember of the last burst: past `reserveAfter` only the minimum (at least one)
 * is kept, past `zeroAfter` with a minimum of 0 none is, and a function at zero stays there until a
 * request comes.
 */
function instancesToKeep(
  desired: number,
  serving: ReadonlyArray<InstanceView>,
  waiting: number,
  idleFor: (instance: InstanceView) => number,
  config: LifecycleConfig,
): number {
  const keep = Math.max(desired, config.minScale);
  const demand = waiting + serving.reduce((sum, instance) => sum + instance.inflight, 0);
  if (demand > 0) return Math.max(keep, 1);
  const allIdleFor = (ms: number): boolean =>
    serving.length > 0 && serving.every((instance) => idleFor(instance) >= ms);
  const quiet = allIdleFor(config.reserveAfterMs) ? Math.min(keep, Math.max(config.minScale, 1)) : keep;
  if (config.minScale > 0) return quiet;
  if (serving.length === 0 || allIdleFor(config.zeroAfterMs)) return 0;
  return Math.max(quiet, 1);
}

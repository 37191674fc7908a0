import type { InstanceState } from '../autoscaler/plan-instances.js';
import type { AnswerRecord } from './answer-watch.js';
import type { ResourceSpec } from './resource-spec.js';

/** One running container of a function, as the runner tracks it. */
export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly fn: string;
  revision: number;
  /** http://IP:9000 on the function's own bridge network. */
  readonly address: string;
  /** Its state, its spec and when it entered that state change together, only through `moveTo`. */
  readonly state: InstanceState;
  readonly stateSince: number;
  /** The CPU and memory the container has now (not what it is being resized to). */
  readonly spec: ResourceSpec;
  lastActiveAt: number;
  /** When its container was started (or adopted). */
  readonly startedAt: number;
  /** When it first became ready (or was adopted); undefined while it starts. */
  readyAt?: number;
  /** Requests the runner itself has sent (async events, invokes) and not yet seen answered. */
  inflight: number;
  /** IP:PORT the edge sends requests to: the app's port, or the adapter's when the app listens on loopback. */
  target?: string;
  /** Requests the edge had open or queued for it at the last sample. */
  edgeSessions: number;
  /** Requests the edge had sent it in all, at the last sample (a change means it was used since). */
  edgeTotal: number;
  /** Its answers and failed requests at the edge, as last sampled (see answer-watch.ts). */
  edgeAnswers?: AnswerRecord;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The one place an instance's state and spec change: together, once the engine has done its part. */
export function moveTo(instance: Instance, state: InstanceState, now: number, spec = instance.spec): void {
  const changing = instance as Mutable<Instance>;
  changing.state = state;
  changing.stateSince = now;
  changing.spec = spec;
}

/** Whether it is (still) in `state`: read after an await, when another action may have moved it. */
export function isIn(instance: Instance, state: InstanceState): boolean {
  return instance.state === state;
}

/** Requests it is serving or has queued, from the edge and from the runner: while any, it is in use. */
export function inUse(instance: Instance): number {
  return instance.inflight + instance.edgeSessions;
}

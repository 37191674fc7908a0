import type { InstanceState } from '../autoscaler/plan-instances.js';
import type { ResourceSpec } from './resource-spec.js';

/** One running container of a function, as the runner tracks it. */
export interface Instance {
  id: string;
  name: string;
  fn: string;
  revision: number;
  /** http://IP:9000 on the function's own bridge network. */
  address: string;
  state: InstanceState;
  stateSince: number;
  lastActiveAt: number;
  /** When its container was started (or adopted). */
  startedAt: number;
  /** When it first became ready (or was adopted); undefined while it starts. */
  readyAt?: number;
  /** Requests the gateway has sent and not yet seen answered. */
  inflight: number;
  /** The CPU and memory the container has now. */
  spec: ResourceSpec;
}

import type { AutoscalerConfig } from '../autoscaler/kpa.js';
import type { LifecycleConfig } from '../autoscaler/plan-instances.js';
import type { ResourceSpec } from '../instances/resource-spec.js';
import type { PullPolicy } from '../registry/pull-image.js';
import type { AdapterSettings, AsyncSettings, IsolationSettings } from './deploy-request.js';

/** Everything the runner keeps about a deployed function; one revision per deploy. */
export interface FunctionSpec {
  name: string;
  /** The reference the user deployed, e.g. 127.0.0.1:5000/shop:1.2 */
  image: string;
  /** The digest the reference resolved to when it was pulled (absent for a local-only image). */
  digest: string | undefined;
  /** The local image id instances run, so a moved tag cannot change a revision. */
  imageId: string;
  startupTimeoutMs: number;
  revision: number;
  appPort: number;
  active: ResourceSpec;
  reserved: ResourceSpec;
  /** Requests one instance holds at once. */
  concurrency: number;
  timeoutMs: number;
  /** How long an upgraded connection (a WebSocket) may stay idle at the edge. */
  tunnelTimeoutMs?: number;
  env: Record<string, string>;
  /** App statuses that count as function errors on invoke (the adapter's PILOTLIGHT_ERROR_STATUSES). */
  errorStatuses?: string;
  scaling: Pick<AutoscalerConfig, 'minScale' | 'maxScale'> & Partial<AutoscalerConfig>;
  lifecycle: LifecycleConfig;
  /** Readiness, initializer, hooks and limits of the adapter in each instance. */
  adapter: AdapterSettings;
  /** How its async events are run: concurrency, retries, maximum age, payload limit. */
  async: AsyncSettings;
  /** Capabilities, process limit, read-only root, user and tmpfs mounts (defaults when absent). */
  isolation?: IsolationSettings;
  /** Name → the value sealed (runner/src/store/secret-box.ts): the app gets it in its environment. */
  secrets?: Record<string, string>;
  /** The pull policy the user asked for, if any (each deploy pulls by it). */
  pull?: PullPolicy;
}

/**
 * How long a request may wait for an instance with room (in the activator, or in the edge's queue): a start
 * from zero, and a margin.
 */
export function capacityWaitMs(spec: Pick<FunctionSpec, 'startupTimeoutMs'>): number {
  return spec.startupTimeoutMs + 5_000;
}

/** A function name: also a DNS label, so `NAME.localhost` routes to it. */
export const FUNCTION_NAME_PATTERN = '[a-z0-9][a-z0-9-]{0,62}';
const NAME = new RegExp(`^${FUNCTION_NAME_PATTERN}$`);

export function isValidFunctionName(name: string): boolean {
  return NAME.test(name);
}

import { defaultConfig } from '../autoscaler/kpa.js';
import { defaultLifecycleConfig, type LifecycleConfig } from '../autoscaler/plan-instances.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { isValidFunctionName } from './function-spec.js';
import type { RegistryAuth } from '../registry/registry-auth.js';
import type { PullPolicy } from '../registry/pull-image.js';
import {
  BadSpecError,
  capToHost,
  parseCpus,
  parseMemory,
  type HostCapacity,
  type ResourceSpec,
} from '../instances/resource-spec.js';
import { ADAPTER_PORT } from '../../../adapter/contract/contract.js';

/** What `runner deploy` sends to the control API: flags as the user typed them. */
export interface DeployRequest {
  image: string;
  name?: string;
  port?: number;
  cpus?: string;
  memory?: string;
  reservedCpus?: string;
  reservedMemory?: string;
  concurrency?: number;
  min?: number;
  max?: number;
  /** Seconds. */
  timeout?: number;
  env?: string[];
  errorStatuses?: string;
  reserveAfter?: number;
  freezeAfter?: number;
  zeroAfter?: number;
  startupTimeout?: number;
  /** Seconds; the panic window is a tenth of it, as in Knative. */
  stableWindow?: number;
  scaleDownDelay?: number;
  pull?: PullPolicy;
  auth?: RegistryAuth;
}

export interface CheckedDeploy {
  name: string;
  image: string;
  port: number | undefined;
  active: ResourceSpec;
  reserved: ResourceSpec;
  concurrency: number;
  minScale: number;
  maxScale: number;
  timeoutMs: number;
  startupTimeoutMs: number;
  env: Record<string, string>;
  errorStatuses: string | undefined;
  lifecycle: LifecycleConfig;
  autoscaler: { stableWindowMs: number; panicWindowMs: number; scaleDownDelayMs: number };
  warnings: string[];
}

export const MAX_TIMEOUT_S = 2 * 60 * 60;

export class BadDeployError extends PilotlightError {
  constructor(message: string) {
    super('BAD_DEPLOY', message, 400);
  }
}

/** `127.0.0.1:5000/team/shop:1.2` → `shop`. */
export function nameFromImage(image: string): string {
  const last = image.split('@')[0]!.split('/').pop() ?? '';
  return last
    .replace(/:[^:]*$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63);
}

/** Validates every flag at once, before anything is pulled or started, and caps specs to the host. */
export function checkDeploy(request: DeployRequest, host: HostCapacity): CheckedDeploy {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof BadSpecError)) throw error;
      problems.push(error.message);
      return fallback;
    }
  };
  const MiB = 1024 ** 2;
  const name = request.name ?? nameFromImage(request.image);
  if (!isValidFunctionName(name)) {
    problems.push(
      `--name ${name} must be lower-case letters, digits and dashes, starting with a letter or digit`,
    );
  }
  if (
    request.port !== undefined &&
    (!Number.isInteger(request.port) ||
      request.port < 1 ||
      request.port > 65535 ||
      request.port === ADAPTER_PORT)
  ) {
    problems.push(
      `--port ${request.port} must be a port from 1 to 65535 other than ${ADAPTER_PORT} (the adapter's)`,
    );
  }
  const activeAsked: ResourceSpec = {
    cpus: attempt(() => parseCpus(request.cpus ?? '1', '--cpus'), 1),
    memory: attempt(() => parseMemory(request.memory ?? '512m', '--memory'), 512 * MiB),
  };
  const reserved: ResourceSpec = {
    cpus: attempt(() => parseCpus(request.reservedCpus ?? '0.05', '--reserved-cpus'), 0.05),
    memory: attempt(() => parseMemory(request.reservedMemory ?? '128m', '--reserved-memory'), 128 * MiB),
  };
  const { spec: active, warnings } = capToHost(activeAsked, host, 'the active spec (--cpus/--memory)');
  if (reserved.cpus > active.cpus || reserved.memory > active.memory) {
    problems.push(
      '--reserved-cpus/--reserved-memory must not exceed --cpus/--memory: the reserved spec is the small one',
    );
  }
  const concurrency = request.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    problems.push(`--concurrency ${concurrency} must be a whole number ≥ 1`);
  const minScale = request.min ?? 1;
  const maxScale = request.max ?? defaultConfig().maxScale;
  if (!Number.isInteger(minScale) || minScale < 0)
    problems.push(`--min ${minScale} must be a whole number ≥ 0`);
  if (!Number.isInteger(maxScale) || maxScale < Math.max(1, minScale)) {
    problems.push(`--max ${maxScale} must be a whole number ≥ 1 and ≥ --min`);
  }
  const timeout = request.timeout ?? 300;
  if (!(timeout > 0 && timeout <= MAX_TIMEOUT_S))
    problems.push(`--timeout ${timeout} must be from 1 to ${MAX_TIMEOUT_S} seconds (2 h)`);
  const env: Record<string, string> = {};
  for (const item of request.env ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) problems.push(`--env ${item} must be KEY=VALUE`);
    else if (item.startsWith('PILOTLIGHT_'))
      problems.push(`--env ${item.slice(0, eq)}: PILOTLIGHT_* is reserved for the adapter`);
    else env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  if (
    request.errorStatuses !== undefined &&
    !/^\d{3}(-\d{3})?(,\s*\d{3}(-\d{3})?)*$/.test(request.errorStatuses)
  ) {
    problems.push(
      `--error-statuses ${request.errorStatuses} must be statuses or ranges like 500-599 or 400-499,503`,
    );
  }
  const defaults = defaultLifecycleConfig();
  const seconds = (value: number | undefined, fallbackMs: number, flag: string): number => {
    if (value === undefined) return fallbackMs;
    if (!(value >= 0)) problems.push(`${flag} ${value} must be a number of seconds ≥ 0`);
    return value * 1000;
  };
  const lifecycle: LifecycleConfig = {
    minScale,
    reserveAfterMs: seconds(request.reserveAfter, defaults.reserveAfterMs, '--reserve-after'),
    freezeAfterMs: seconds(request.freezeAfter, defaults.freezeAfterMs, '--freeze-after'),
    zeroAfterMs: seconds(request.zeroAfter, defaults.zeroAfterMs, '--zero-after'),
  };
  const startupTimeoutMs = seconds(request.startupTimeout, 120_000, '--startup-timeout');
  const kpa = defaultConfig();
  const stableWindowMs = seconds(request.stableWindow, kpa.stableWindowMs, '--stable-window');
  if (stableWindowMs < 1000) problems.push('--stable-window must be at least 1 second');
  const autoscaler = {
    stableWindowMs,
    panicWindowMs: Math.max(500, Math.round(stableWindowMs / 10)),
    scaleDownDelayMs: seconds(request.scaleDownDelay, kpa.scaleDownDelayMs, '--scale-down-delay'),
  };
  if (problems.length > 0) throw new BadDeployError(problems.join('; '));
  return {
    name,
    image: request.image,
    port: request.port,
    active,
    reserved,
    concurrency,
    minScale,
    maxScale,
    timeoutMs: timeout * 1000,
    startupTimeoutMs,
    env,
    errorStatuses: request.errorStatuses,
    lifecycle,
    autoscaler,
    warnings,
  };
}

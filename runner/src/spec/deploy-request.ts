import type { LifecycleConfig } from '../autoscaler/plan-instances.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { isValidFunctionName } from './function-spec.js';
import type { RegistryAuth } from '../registry/registry-auth.js';
import type { PullPolicy } from '../registry/pull-image.js';
import { capToHost, type HostCapacity, type ResourceSpec } from '../instances/resource-spec.js';
import { readDocument, type FunctionDocument } from './function-document.js';
import type { FieldKey } from './function-schema.js';

/**
 * What `runner deploy` sends to the control API: a function's fields as the user wrote them (a spec file
 * with flags on top), keyed as in the schema, plus registry credentials.
 */
export type DeployRequest = { [key in FieldKey]?: unknown } & { image: string; auth?: RegistryAuth };

/** How the adapter in each instance is set up: readiness, initializer, hooks and limits. */
export interface AdapterSettings {
  /** An HTTP path the adapter polls, or `tcp`. */
  readiness: string;
  readyStatuses: string;
  initializer?: string;
  initializerTimeoutMs: number;
  preStop?: string;
  preFreeze?: string;
  hookTimeoutMs: number;
  eventsPath: string;
  maxEventBytes: number;
  /** No limit when absent. */
  maxBodyBytes?: number;
}

/** How the function's async events are run. */
export interface AsyncSettings {
  concurrency: number;
  maxRetries: number;
  maxEventAgeMs: number;
  maxPayloadBytes: number;
  /** Destinations of the record of an event's end: a URL or function:NAME. */
  onSuccess?: string;
  onFailure?: string;
}

/** How an instance is confined beyond the defaults every instance has (runner/src/instances/confinement.ts). */
export interface IsolationSettings {
  /** Capabilities added to the allowlist, and taken from it. */
  capAdd: string[];
  capDrop: string[];
  pidsLimit: number;
  readOnly: boolean;
  /** UID[:GID]; the image's USER when absent. */
  user?: string;
  /** Path → bytes. */
  tmpfs: Record<string, number>;
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
  tunnelTimeoutMs: number;
  startupTimeoutMs: number;
  env: Record<string, string>;
  errorStatuses: string | undefined;
  lifecycle: LifecycleConfig;
  autoscaler: { stableWindowMs: number; panicWindowMs: number; scaleDownDelayMs: number };
  adapter: AdapterSettings;
  async: AsyncSettings;
  isolation: IsolationSettings;
  /** Name → value, or null to keep the value deployed before. */
  secrets: Record<string, string | null>;
  pull: PullPolicy | undefined;
  warnings: string[];
}

/** Every problem of a deploy at once: in the message, and as a list (field, problem) for machines. */
export class BadDeployError extends PilotlightError {
  constructor(problems: string[]) {
    super('BAD_DEPLOY', problems.join('; '), 400, {
      problems: problems.map((problem) => ({
        field: problem.slice(0, problem.indexOf(':')),
        problem: problem.slice(problem.indexOf(':') + 1).trim(),
      })),
    });
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

/** Checks every field at once, before anything is pulled or started, and caps specs to the host. */
export function checkDeploy(request: DeployRequest, host: HostCapacity): CheckedDeploy {
  const { auth: _auth, ...raw } = request;
  const { document, problems } = readDocument(raw);
  if (!document) throw new BadDeployError(problems);
  const name = document.name ?? nameFromImage(document.image);
  if (!isValidFunctionName(name)) {
    throw new BadDeployError([
      `name: the image ${document.image} gives no usable function name (${JSON.stringify(name)}): pass --name`,
    ]);
  }
  const { spec: active, warnings } = capToHost(
    { cpus: document.cpus, memory: document.memory },
    host,
    'the active spec (cpus, memory)',
  );
  return {
    name,
    image: document.image,
    port: document.port,
    active,
    reserved: { cpus: document.reservedCpus, memory: document.reservedMemory },
    concurrency: document.concurrency,
    minScale: document.min,
    maxScale: document.max,
    timeoutMs: document.timeout,
    tunnelTimeoutMs: document.tunnelTimeout,
    startupTimeoutMs: document.startupTimeout,
    env: document.env ?? {},
    errorStatuses: document.errorStatuses,
    lifecycle: {
      minScale: document.min,
      reserveAfterMs: document.reserveAfter,
      freezeAfterMs: document.freezeAfter,
      zeroAfterMs: document.zeroAfter,
    },
    autoscaler: {
      stableWindowMs: document.stableWindow,
      panicWindowMs: document.panicWindow,
      scaleDownDelayMs: document.scaleDownDelay,
    },
    adapter: adapterSettingsOf(document),
    async: asyncSettingsOf(document),
    isolation: isolationSettingsOf(document),
    secrets: document.secrets ?? {},
    pull: document.pull,
    warnings,
  };
}

export function adapterSettingsOf(document: FunctionDocument): AdapterSettings {
  return {
    readiness: document.readiness,
    readyStatuses: document.readyStatuses,
    ...(document.initializer ? { initializer: document.initializer } : {}),
    initializerTimeoutMs: document.initializerTimeout,
    ...(document.preStop ? { preStop: document.preStop } : {}),
    ...(document.preFreeze ? { preFreeze: document.preFreeze } : {}),
    hookTimeoutMs: document.hookTimeout,
    eventsPath: document.eventsPath,
    maxEventBytes: document.maxEventSize,
    ...(document.maxBodySize === undefined ? {} : { maxBodyBytes: document.maxBodySize }),
  };
}

/** The adapter settings every field's default gives. */
export function defaultAdapterSettings(): AdapterSettings {
  return adapterSettingsOf(readDocument({ image: 'default' }).document!);
}

export function asyncSettingsOf(document: FunctionDocument): AsyncSettings {
  return {
    concurrency: document.asyncConcurrency,
    maxRetries: document.maxRetries,
    maxEventAgeMs: document.maxEventAge,
    maxPayloadBytes: document.maxAsyncPayload,
    ...(document.onSuccess ? { onSuccess: document.onSuccess } : {}),
    ...(document.onFailure ? { onFailure: document.onFailure } : {}),
  };
}

export function isolationSettingsOf(document: FunctionDocument): IsolationSettings {
  return {
    capAdd: document.capAdd ?? [],
    capDrop: document.capDrop ?? [],
    pidsLimit: document.pidsLimit,
    readOnly: document.readOnly,
    ...(document.user ? { user: document.user } : {}),
    tmpfs: document.tmpfs ?? {},
  };
}

/** The isolation every field's default gives (also for a function stored before these settings existed). */
export function defaultIsolationSettings(): IsolationSettings {
  return isolationSettingsOf(readDocument({ image: 'default' }).document!);
}

/** The async settings every field's default gives. */
export function defaultAsyncSettings(): AsyncSettings {
  return asyncSettingsOf(readDocument({ image: 'default' }).document!);
}

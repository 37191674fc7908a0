import { ADAPTER_PORT } from '../../../adapter/contract/contract.js';
import { defaultConfig } from '../autoscaler/kpa.js';
import {
  closestKey,
  FIELDS,
  fieldByKey,
  formatValue,
  parseField,
  shown,
  type Field,
  type FieldKey,
} from './function-schema.js';
import type { FunctionSpec } from './function-spec.js';
import { formatSize } from './units.js';
import { defaultIsolationSettings, type IsolationSettings } from './deploy-request.js';

/** A function as a user writes it (a spec file, flags, the control API), checked, in canonical units. */
export interface FunctionDocument {
  image: string;
  name?: string;
  port?: number;
  cpus: number;
  memory: number;
  reservedCpus: number;
  reservedMemory: number;
  concurrency: number;
  min: number;
  max: number;
  timeout: number;
  tunnelTimeout: number;
  startupTimeout: number;
  env: Record<string, string>;
  errorStatuses: string;
  reserveAfter: number;
  freezeAfter: number;
  zeroAfter: number;
  stableWindow: number;
  panicWindow: number;
  scaleDownDelay: number;
  pull?: 'always' | 'missing' | 'never';
  readiness: string;
  readyStatuses: string;
  initializer?: string;
  initializerTimeout: number;
  preStop?: string;
  preFreeze?: string;
  hookTimeout: number;
  eventsPath: string;
  maxEventSize: number;
  maxBodySize?: number;
  asyncConcurrency: number;
  maxRetries: number;
  maxEventAge: number;
  maxAsyncPayload: number;
  onSuccess?: string;
  onFailure?: string;
  capAdd?: string[];
  capDrop?: string[];
  pidsLimit: number;
  readOnly: boolean;
  user?: string;
  tmpfs?: Record<string, number>;
  /** Name → value, or null to keep the value deployed before. */
  secrets?: Record<string, string | null>;
}

/**
 * Checks every field of a raw document at once and fills in the defaults: every problem is reported,
 * each naming its field and what is allowed; an unknown field gets a "did you mean".
 */
export function readDocument(raw: Record<string, unknown>): {
  document?: FunctionDocument;
  problems: string[];
} {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (raw[key] === undefined || fieldByKey(key)) continue;
    const guess = closestKey(key);
    problems.push(
      `${key}: no such field${guess ? ` (did you mean ${guess}?)` : ''}; \`runner deploy --help\` lists them`,
    );
  }
  for (const field of FIELDS as readonly Field[]) {
    const given = raw[field.key];
    if (given === undefined || given === null) {
      if (field.required) problems.push(`${field.key}: is required`);
      else if (field.default !== undefined) values[field.key] = field.default;
      continue;
    }
    const parsed = parseField(field, given);
    if ('problem' in parsed) problems.push(parsed.problem);
    else values[field.key] = parsed.value;
  }
  const document = values as unknown as FunctionDocument;
  if (document.panicWindow === undefined && typeof document.stableWindow === 'number') {
    document.panicWindow = Math.max(1000, Math.round(document.stableWindow / 10));
  }
  problems.push(...crossFieldProblems(document, raw));
  return problems.length > 0 ? { problems } : { document, problems };
}

/** Rules between fields: each is reported only when both fields were themselves valid. */
function crossFieldProblems(document: FunctionDocument, raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const valid = (...keys: Array<keyof FunctionDocument>) =>
    keys.every((key) => typeof document[key] === 'number');
  if (document.port === ADAPTER_PORT)
    problems.push(`port: ${ADAPTER_PORT} is the adapter's port: give the app another`);
  if (valid('min', 'max') && document.max < document.min) {
    problems.push(`max: ${shown(raw['max'])} is below min ${document.min}: max must be at least min`);
  }
  if (valid('cpus', 'reservedCpus') && document.reservedCpus > document.cpus) {
    problems.push(
      `reservedCpus: ${document.reservedCpus} is above cpus ${document.cpus}: the reserved spec is the small one`,
    );
  }
  if (valid('memory', 'reservedMemory') && document.reservedMemory > document.memory) {
    problems.push(
      `reservedMemory: ${shown(raw['reservedMemory'])} is above memory: the reserved spec is the small one`,
    );
  }
  const both = Object.keys(document.secrets ?? {}).find((name) => document.env?.[name] !== undefined);
  if (both) problems.push(`secrets: ${both} is also in env: give it one way`);
  if (valid('panicWindow', 'stableWindow') && document.panicWindow > document.stableWindow) {
    problems.push(
      `panicWindow: ${shown(raw['panicWindow'])} is longer than stableWindow: it must be at most as long`,
    );
  }
  return problems;
}

/** The isolation settings as fields: lists and maps that are empty are left out, as a user would write them. */
function isolationFields(isolation: IsolationSettings) {
  const some = <T extends object>(value: T): T | undefined =>
    Object.keys(value).length > 0 ? value : undefined;
  return {
    capAdd: some(isolation.capAdd),
    capDrop: some(isolation.capDrop),
    pidsLimit: isolation.pidsLimit,
    readOnly: isolation.readOnly,
    user: isolation.user,
    tmpfs: some(isolation.tmpfs),
  };
}

/**
 * A deployed function written back as a document, every field in the units people type, in schema order:
 * what `runner get NAME -o yaml` prints and `runner deploy -f` takes back unchanged.
 */
export function documentOf(spec: FunctionSpec): Record<string, unknown> {
  const values: Record<FieldKey, unknown> = {
    image: spec.image,
    name: spec.name,
    port: spec.appPort,
    cpus: spec.active.cpus,
    memory: spec.active.memory,
    reservedCpus: spec.reserved.cpus,
    reservedMemory: spec.reserved.memory,
    concurrency: spec.concurrency,
    min: spec.scaling.minScale,
    max: spec.scaling.maxScale,
    timeout: spec.timeoutMs,
    tunnelTimeout: spec.tunnelTimeoutMs ?? 3600_000,
    startupTimeout: spec.startupTimeoutMs,
    env: spec.env,
    errorStatuses: spec.errorStatuses ?? fieldByKey('errorStatuses')!.default,
    reserveAfter: spec.lifecycle.reserveAfterMs,
    freezeAfter: spec.lifecycle.freezeAfterMs,
    zeroAfter: spec.lifecycle.zeroAfterMs,
    stableWindow: spec.scaling.stableWindowMs ?? defaultConfig().stableWindowMs,
    panicWindow: spec.scaling.panicWindowMs ?? defaultConfig().panicWindowMs,
    scaleDownDelay: spec.scaling.scaleDownDelayMs ?? defaultConfig().scaleDownDelayMs,
    pull: spec.pull,
    readiness: spec.adapter.readiness,
    readyStatuses: spec.adapter.readyStatuses,
    initializer: spec.adapter.initializer,
    initializerTimeout: spec.adapter.initializerTimeoutMs,
    preStop: spec.adapter.preStop,
    preFreeze: spec.adapter.preFreeze,
    hookTimeout: spec.adapter.hookTimeoutMs,
    eventsPath: spec.adapter.eventsPath,
    maxEventSize: spec.adapter.maxEventBytes,
    maxBodySize: spec.adapter.maxBodyBytes,
    asyncConcurrency: spec.async.concurrency,
    maxRetries: spec.async.maxRetries,
    maxEventAge: spec.async.maxEventAgeMs,
    maxAsyncPayload: spec.async.maxPayloadBytes,
    onSuccess: spec.async.onSuccess,
    onFailure: spec.async.onFailure,
    ...isolationFields(spec.isolation ?? defaultIsolationSettings()),
    // Names only: deployed again as they are, they keep their values.
    secrets:
      spec.secrets && Object.keys(spec.secrets).length > 0 ? Object.keys(spec.secrets).sort() : undefined,
  };
  const document: Record<string, unknown> = {};
  for (const field of FIELDS as readonly Field[]) {
    const value = values[field.key as FieldKey];
    if (value === undefined) continue;
    document[field.key] =
      field.kind === 'duration' || field.kind === 'size'
        ? formatValue(field, value)
        : field.kind === 'tmpfs'
          ? Object.fromEntries(
              Object.entries(value as Record<string, number>).map(([path, bytes]) => [
                path,
                formatSize(bytes),
              ]),
            )
          : value;
  }
  return document;
}

import { ADAPTER_PORT } from '../../../adapter/contract/contract.js';
import { defaultConfig } from '../autoscaler/kpa.js';
import { defaultLifecycleConfig } from '../autoscaler/plan-instances.js';
import { RUNTIME_MOUNT } from '../adapter-runtime/adapter-runtime.js';
import { FUNCTION_NAME_PATTERN } from './function-spec.js';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';

/**
 * Every field of a function, declared once: its type, default, allowed range, unit and a one-line doc. The
 * CLI's flags and help, the control API's validation, the spec file format and the README's table all come
 * from this list.
 */

export type FieldKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'duration'
  | 'size'
  | 'choice'
  | 'env'
  | 'statuses'
  | 'hook'
  | 'path'
  | 'destination'
  | 'boolean'
  | 'capabilities'
  | 'user'
  | 'tmpfs'
  | 'secrets';

export interface Field {
  /** The key in a spec file and in the control API. */
  key: string;
  /** The CLI flag, without dashes. */
  flag: string;
  /** Docker's one-letter flag, where Docker has one. */
  short?: string;
  kind: FieldKind;
  /** The default in the field's canonical unit (ms for durations, bytes for sizes). */
  default?: number | string | boolean;
  /** When the default is not a fixed value: where it comes from. */
  defaultFrom?: string;
  /** The allowed range, in the canonical unit. */
  min?: number;
  max?: number;
  choices?: readonly string[];
  unit?: string;
  doc: string;
  /** The field must be given (the image). */
  required?: boolean;
}

/** The autoscaler's and the lifecycle planner's own defaults: the schema names them, never repeats them. */
const AUTOSCALER = defaultConfig();
const LIFECYCLE = defaultLifecycleConfig();

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * What an unchanged nginx, Tomcat, gunicorn or Node app needs to bind its port and drop to its own user, and
 * nothing else: Docker's default set less AUDIT_WRITE, FSETID, MKNOD, NET_RAW, SETFCAP, SETPCAP and SYS_CHROOT.
 */
export const DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'KILL',
  'NET_BIND_SERVICE',
  'SETGID',
  'SETUID',
];

/** The tmpfs on /tmp of a read-only instance, when `tmpfs` does not size it. */
export const READ_ONLY_TMP_BYTES = 64 * MiB;

export const FIELDS = [
  {
    key: 'image',
    flag: 'image',
    kind: 'string',
    required: true,
    doc: 'the image to run, IMAGE[:TAG] or IMAGE@DIGEST',
  },
  {
    key: 'name',
    flag: 'name',
    kind: 'string',
    defaultFrom: 'the image name',
    doc: 'the function name: lower-case letters, digits and dashes (it is also a DNS label)',
  },
  {
    key: 'port',
    flag: 'port',
    short: 'p',
    kind: 'integer',
    min: 1,
    max: 65535,
    defaultFrom: "the image's first EXPOSE",
    doc: `the port the app listens on inside its container (any but ${ADAPTER_PORT}, the adapter's)`,
  },
  {
    key: 'cpus',
    flag: 'cpus',
    kind: 'number',
    default: 1,
    min: 0.01,
    max: 64,
    unit: 'CPUs',
    doc: 'CPUs of an active instance (capped to the host)',
  },
  {
    key: 'memory',
    flag: 'memory',
    short: 'm',
    kind: 'size',
    default: 512 * MiB,
    min: 6 * MiB,
    max: 1024 * GiB,
    doc: 'memory of an active instance, swap equal to it (capped to the host)',
  },
  {
    key: 'reservedCpus',
    flag: 'reserved-cpus',
    kind: 'number',
    default: 0.05,
    min: 0.01,
    max: 64,
    unit: 'CPUs',
    doc: 'CPUs of a reserved (idle, shrunk in place) instance; at most `cpus`',
  },
  {
    key: 'reservedMemory',
    flag: 'reserved-memory',
    kind: 'size',
    default: 128 * MiB,
    min: 6 * MiB,
    max: 1024 * GiB,
    doc: 'memory of a reserved instance; never set below what the app uses plus 25 %',
  },
  {
    key: 'concurrency',
    flag: 'concurrency',
    kind: 'integer',
    default: AUTOSCALER.targetConcurrency,
    min: 1,
    max: 1000,
    unit: 'requests',
    doc: 'requests one instance serves at once; more wait in the activator',
  },
  {
    key: 'min',
    flag: 'min',
    kind: 'integer',
    default: LIFECYCLE.minScale,
    min: 0,
    max: 100,
    unit: 'instances',
    doc: 'instances kept when idle (shrunk, then frozen); 0 lets the function go to zero',
  },
  {
    key: 'max',
    flag: 'max',
    kind: 'integer',
    default: AUTOSCALER.maxScale,
    min: 1,
    max: 100,
    unit: 'instances',
    doc: 'most instances under load; at least `min`',
  },
  {
    key: 'timeout',
    flag: 'timeout',
    kind: 'duration',
    default: 5 * MINUTE,
    min: SECOND,
    max: 2 * HOUR,
    doc: 'longest a request may take before it is answered 504',
  },
  {
    key: 'tunnelTimeout',
    flag: 'tunnel-timeout',
    kind: 'duration',
    default: HOUR,
    min: SECOND,
    max: 24 * HOUR,
    doc: 'longest a WebSocket (or other upgraded connection) may stay idle before the edge closes it',
  },
  {
    key: 'startupTimeout',
    flag: 'startup-timeout',
    kind: 'duration',
    default: 2 * MINUTE,
    min: SECOND,
    max: HOUR,
    doc: 'longest a new instance may take to be ready (initializer included)',
  },
  {
    key: 'env',
    flag: 'env',
    short: 'e',
    kind: 'env',
    doc: 'environment for the app, KEY=VALUE (repeatable; PILOTLIGHT_* is reserved)',
  },
  {
    key: 'errorStatuses',
    flag: 'error-statuses',
    kind: 'statuses',
    default: '500-599',
    doc: 'app statuses that count as function errors, like 500-599 or 400-499,503',
  },
  {
    key: 'reserveAfter',
    flag: 'reserve-after',
    kind: 'duration',
    default: LIFECYCLE.reserveAfterMs,
    min: 0,
    max: 24 * HOUR,
    doc: 'no request for this long, the instances above `min` go and the last ones (up to `min`, at least one) are shrunk to the reserved spec, whatever the autoscaler windows still remember',
  },
  {
    key: 'freezeAfter',
    flag: 'freeze-after',
    kind: 'duration',
    default: LIFECYCLE.freezeAfterMs,
    min: 0,
    max: 24 * HOUR,
    doc: 'reserved this long, an instance is frozen (paused)',
  },
  {
    key: 'zeroAfter',
    flag: 'zero-after',
    kind: 'duration',
    default: LIFECYCLE.zeroAfterMs,
    min: 0,
    max: 24 * HOUR,
    doc: 'with `min` 0, no request for this long, the last instances go (counted from the end of the last request; the autoscaler windows do not delay it)',
  },
  {
    key: 'stableWindow',
    flag: 'stable-window',
    kind: 'duration',
    default: AUTOSCALER.stableWindowMs,
    min: SECOND,
    max: HOUR,
    doc: 'the autoscaler averages concurrency over this window to decide a count under load (the idle graces act on their own)',
  },
  {
    key: 'panicWindow',
    flag: 'panic-window',
    kind: 'duration',
    defaultFrom: 'a tenth of `stableWindow`',
    min: SECOND,
    max: HOUR,
    doc: 'the short window that scales out at once when a burst doubles the load; at most `stableWindow`',
  },
  {
    key: 'scaleDownDelay',
    flag: 'scale-down-delay',
    kind: 'duration',
    default: AUTOSCALER.scaleDownDelayMs,
    min: 0,
    max: HOUR,
    doc: 'under load, a lower count must hold this long before instances are drained (a function with no request at all follows `reserveAfter`)',
  },
  {
    key: 'pull',
    flag: 'pull',
    kind: 'choice',
    choices: ['always', 'missing', 'never'],
    defaultFrom: '`always` for a registry reference, `missing` for a local name',
    doc: 'when the image is pulled on deploy',
  },
  {
    key: 'readiness',
    flag: 'readiness',
    kind: 'string',
    default: '/',
    doc: 'how the adapter knows the app is ready: an HTTP path it polls, or `tcp` (the port accepts)',
  },
  {
    key: 'readyStatuses',
    flag: 'ready-statuses',
    kind: 'statuses',
    default: '100-499',
    doc: 'statuses of the readiness path that mean ready',
  },
  {
    key: 'initializer',
    flag: 'initializer',
    kind: 'hook',
    doc: 'run once on every new instance before it takes traffic: `path:/init` (POST to the app) or `command:["prog","arg"]`',
  },
  {
    key: 'initializerTimeout',
    flag: 'initializer-timeout',
    kind: 'duration',
    default: 5 * MINUTE,
    min: SECOND,
    max: HOUR,
    doc: 'longest the initializer may take; past it the instance is replaced',
  },
  {
    key: 'preStop',
    flag: 'pre-stop',
    kind: 'hook',
    doc: 'run when an instance is drained, before the app gets SIGTERM: `path:/…` or `command:[…]`',
  },
  {
    key: 'preFreeze',
    flag: 'pre-freeze',
    kind: 'hook',
    doc: 'run before an instance is frozen: `path:/…` or `command:[…]`',
  },
  {
    key: 'hookTimeout',
    flag: 'hook-timeout',
    kind: 'duration',
    default: 10 * SECOND,
    min: SECOND,
    max: 10 * MINUTE,
    doc: 'longest `preStop` or `preFreeze` may take',
  },
  {
    key: 'eventsPath',
    flag: 'events-path',
    kind: 'path',
    default: '/events',
    doc: 'where events that are not HTTP-shaped are POSTed on the app',
  },
  {
    key: 'maxEventSize',
    flag: 'max-event-size',
    kind: 'size',
    default: 32 * MiB,
    min: 1024,
    max: GiB,
    doc: 'largest event `/_/invoke` accepts; a larger one is answered 413',
  },
  {
    key: 'maxBodySize',
    flag: 'max-body-size',
    kind: 'size',
    defaultFrom: 'no limit',
    min: 1024,
    max: 1024 * GiB,
    doc: 'largest request body passed to the app; a larger one is answered 413 without reaching it (a function with a limit is reached through its adapter, which cuts a chunked body as it streams)',
  },
  {
    key: 'asyncConcurrency',
    flag: 'async-concurrency',
    kind: 'integer',
    default: 10,
    min: 1,
    max: 1000,
    unit: 'events',
    doc: 'async events of the function running at once (they share instances and the autoscaler with requests)',
  },
  {
    key: 'maxRetries',
    flag: 'max-retries',
    kind: 'integer',
    default: 3,
    min: 0,
    max: 8,
    doc: 'times an async event is tried again after a function error (system errors are retried until maxEventAge)',
  },
  {
    key: 'maxEventAge',
    flag: 'max-event-age',
    kind: 'duration',
    default: 6 * HOUR,
    min: MINUTE,
    max: 7 * 24 * HOUR,
    doc: 'past this age an async event is not tried again: it expires',
  },
  {
    key: 'maxAsyncPayload',
    flag: 'max-async-payload',
    kind: 'size',
    default: MiB,
    min: 1024,
    max: 32 * MiB,
    doc: 'largest async event accepted; a larger one is answered 413 before it is stored',
  },
  {
    key: 'onSuccess',
    flag: 'on-success',
    kind: 'destination',
    doc: 'where the record of an async event that succeeded goes: an http(s) URL (POSTed JSON) or function:NAME',
  },
  {
    key: 'onFailure',
    flag: 'on-failure',
    kind: 'destination',
    doc: 'where the record of an async event that failed or expired goes: an http(s) URL or function:NAME',
  },
  {
    key: 'capAdd',
    flag: 'cap-add',
    kind: 'capabilities',
    defaultFrom: 'none beyond the allowlist',
    doc: `Linux capabilities added to the instance's allowlist (${DEFAULT_CAPABILITIES.join(', ')}), like NET_RAW (repeatable)`,
  },
  {
    key: 'capDrop',
    flag: 'cap-drop',
    kind: 'capabilities',
    defaultFrom: 'the whole allowlist kept',
    doc: 'Linux capabilities taken from the allowlist, like CHOWN (repeatable)',
  },
  {
    key: 'pidsLimit',
    flag: 'pids-limit',
    kind: 'integer',
    default: 1024,
    min: 16,
    max: 4_194_304,
    unit: 'processes',
    doc: 'most processes and threads an instance may have at once; an instance that reaches it is replaced',
  },
  {
    key: 'readOnly',
    flag: 'read-only',
    kind: 'boolean',
    default: false,
    doc: `the root filesystem is read-only, with a tmpfs on /tmp (${READ_ONLY_TMP_BYTES / MiB}m unless \`tmpfs\` sets /tmp)`,
  },
  {
    key: 'user',
    flag: 'user',
    short: 'u',
    kind: 'user',
    defaultFrom: "the image's USER",
    doc: 'UID[:GID] the app and its adapter run as, like 10001:10001',
  },
  {
    key: 'tmpfs',
    flag: 'tmpfs',
    kind: 'tmpfs',
    defaultFrom: 'none (a read-only instance gets /tmp)',
    doc: 'a size-limited tmpfs in each instance, PATH:SIZE like /cache:64m (repeatable); its size counts toward `memory`',
  },
  {
    key: 'secrets',
    flag: 'secret',
    kind: 'secrets',
    defaultFrom: 'no secret',
    doc: "NAME=@FILE: the app gets the file's content in its environment as NAME; stored sealed, never shown, given to the container on its stdin, not in its config (repeatable; a NAME alone keeps the value deployed before)",
  },
] as const satisfies readonly Field[];

export type FieldKey = (typeof FIELDS)[number]['key'];

const BY_KEY = new Map<string, Field>(FIELDS.map((field) => [field.key, field]));

export function fieldByKey(key: string): Field | undefined {
  return BY_KEY.get(key);
}

/** A value of a field in the field's canonical unit, written the way a user would type it. */
export function formatValue(field: Field, value: unknown): string {
  if (field.kind === 'duration' && typeof value === 'number') return formatDuration(value);
  if (field.kind === 'size' && typeof value === 'number') return formatSize(value);
  if (field.kind === 'capabilities' && Array.isArray(value)) return value.join(',');
  if (field.kind === 'tmpfs' && value && typeof value === 'object') {
    return Object.entries(value as Record<string, number>)
      .map(([path, bytes]) => `${path}:${formatSize(bytes)}`)
      .join(' ');
  }
  if (field.kind === 'env' && value && typeof value === 'object') {
    return Object.entries(value as Record<string, string>)
      .map(([key, item]) => `${key}=${item}`)
      .join(' ');
  }
  return String(value);
}

/** The allowed range, as the docs and the errors say it: `1s–2h`, `0.01–64 CPUs`, `6m–1t`. */
export function describeRange(field: Field): string | undefined {
  if (field.choices) return field.choices.join(', ');
  if (field.min === undefined && field.max === undefined) return undefined;
  const at = (value: number | undefined): string => (value === undefined ? '' : formatValue(field, value));
  const unit = field.unit ? ` ${field.unit}` : '';
  if (field.max === undefined) return `≥ ${at(field.min)}${unit}`;
  return `${at(field.min)}–${at(field.max)}${unit}`;
}

/** The default as the docs say it. */
export function describeDefault(field: Field): string {
  if (field.default !== undefined) return formatValue(field, field.default);
  return field.defaultFrom ?? 'none';
}

const NAME = new RegExp(`^${FUNCTION_NAME_PATTERN}$`);
const STATUSES = /^\d{3}(-\d{3})?(,\s*\d{3}(-\d{3})?)*$/;
const HOOK = /^(path:\/\S*|command:.+)$/;

/** One field's value checked and turned into its canonical unit; or the problem, naming the field. */
export function parseField(field: Field, raw: unknown): { value: unknown } | { problem: string } {
  const say = (what: string) => ({ problem: `${field.key}: ${shown(raw)} ${what}` });
  const inRange = (value: number) => {
    if ((field.min !== undefined && value < field.min) || (field.max !== undefined && value > field.max)) {
      return say(`is out of range: allowed ${describeRange(field)}`);
    }
    return { value };
  };
  switch (field.kind) {
    case 'integer':
    case 'number': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() ? Number(raw) : NaN;
      if (!Number.isFinite(value)) return say(`is not a number: allowed ${describeRange(field)}`);
      if (field.kind === 'integer' && !Number.isInteger(value)) {
        return say(`is not a whole number: allowed ${describeRange(field)}`);
      }
      return inRange(value);
    }
    case 'duration': {
      const value = typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw) : undefined;
      if (value === undefined || value < 0) {
        return say(
          `is not a duration: write 30s, 5m, 2h or a number of seconds (allowed ${describeRange(field)})`,
        );
      }
      return inRange(value);
    }
    case 'size': {
      const value = typeof raw === 'string' || typeof raw === 'number' ? parseSize(raw) : undefined;
      if (value === undefined)
        return say(`is not a size: write 512m, 2g or a number of bytes (allowed ${describeRange(field)})`);
      return inRange(value);
    }
    case 'choice':
      return field.choices!.includes(String(raw))
        ? { value: String(raw) }
        : say(`is not one of ${field.choices!.join(', ')}`);
    case 'statuses':
      return typeof raw === 'string' && STATUSES.test(raw)
        ? { value: raw }
        : say('must be statuses or ranges like 500-599 or 400-499,503');
    case 'hook':
      return typeof raw === 'string' && HOOK.test(raw)
        ? { value: raw }
        : say('must be path:/some/path or command:["program","arg"]');
    case 'path':
      return typeof raw === 'string' && raw.startsWith('/')
        ? { value: raw }
        : say('must be a path starting with /');
    case 'destination':
      return typeof raw === 'string' && isDestination(raw)
        ? { value: raw }
        : say('must be an http:// or https:// URL, or function:NAME');
    case 'env':
      return parseEnv(field, raw);
    case 'boolean':
      if (raw === true || raw === 'true' || raw === '') return { value: true };
      if (raw === false || raw === 'false') return { value: false };
      return say('must be true or false');
    case 'capabilities':
      return parseCapabilities(field, raw);
    case 'user':
      return typeof raw === 'string' && USER.test(raw)
        ? { value: raw }
        : say(
            'must be UID[:GID] in numbers, like 10001:10001 (a name would need the image to have /etc/passwd)',
          );
    case 'tmpfs':
      return parseTmpfs(field, raw);
    case 'secrets':
      return parseSecrets(field, raw);
    case 'string':
      if (typeof raw !== 'string' || !raw) return say('must be a non-empty string');
      if (field.key === 'name' && !NAME.test(raw)) {
        return say(
          'must be lower-case letters, digits and dashes, starting with a letter or digit (at most 63)',
        );
      }
      if (field.key === 'readiness' && raw !== 'tcp' && !raw.startsWith('/')) {
        return say('must be an HTTP path starting with / or tcp');
      }
      return { value: raw };
  }
}

function isDestination(text: string): boolean {
  if (text.startsWith('function:')) return NAME.test(text.slice('function:'.length));
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Linux's capabilities, as Docker names them (without CAP_). */
const CAPABILITIES = new Set(
  `AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE DAC_READ_SEARCH
  FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN
  NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT
  SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM`.split(
    /\s+/,
  ),
);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const USER = /^\d{1,10}(:\d{1,10})?$/;

/** A list (flags, a file) or one comma-separated string → sorted capability names, `CAP_` and case dropped. */
function parseCapabilities(field: Field, raw: unknown): { value: unknown } | { problem: string } {
  const items = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : undefined;
  if (!items) return { problem: `${field.key}: must be a list of capability names, like NET_RAW` };
  const names = items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim().toUpperCase().replace(/^CAP_/, ''))
    .filter(Boolean);
  if (names.includes('ALL')) {
    return { problem: `${field.key}: ALL is not allowed: name each capability the app needs, like NET_RAW` };
  }
  const unknown = names.find((name) => !CAPABILITIES.has(name));
  if (unknown)
    return {
      problem: `${field.key}: ${shown(unknown)} is not a Linux capability, like NET_RAW or SYS_PTRACE`,
    };
  return { value: [...new Set(names)].sort() };
}

/** `["PATH:SIZE", …]` (flags) or `{PATH: SIZE}` (a file) → path → bytes. */
function parseTmpfs(field: Field, raw: unknown): { value: unknown } | { problem: string } {
  let entries: Array<[string, unknown]>;
  if (Array.isArray(raw)) {
    entries = [];
    for (const item of raw.map(String)) {
      const colon = item.lastIndexOf(':');
      if (colon <= 0) return { problem: `${field.key}: ${shown(item)} must be PATH:SIZE, like /cache:64m` };
      entries.push([item.slice(0, colon), item.slice(colon + 1)]);
    }
  } else if (raw && typeof raw === 'object') {
    entries = Object.entries(raw);
  } else {
    return {
      problem: `${field.key}: must be a list of PATH:SIZE, like /cache:64m, or a map of paths to sizes`,
    };
  }
  const mounts: Record<string, number> = {};
  for (const [path, size] of entries) {
    if (!/^\/[^:,\s]*$/.test(path) || path === '/' || path.split('/').includes('..')) {
      return {
        problem: `${field.key}: ${shown(path)} must be an absolute path inside the container, like /cache`,
      };
    }
    if (path === RUNTIME_MOUNT || path.startsWith(`${RUNTIME_MOUNT}/`)) {
      return { problem: `${field.key}: ${path} is where the adapter lives: choose another path` };
    }
    const bytes = typeof size === 'string' || typeof size === 'number' ? parseSize(size) : undefined;
    if (bytes === undefined || bytes < MiB) {
      return { problem: `${field.key}: ${shown(size)} for ${path} is not a size of at least 1m, like 64m` };
    }
    mounts[path] = bytes;
  }
  return { value: mounts };
}

/**
 * `{NAME: value}` (the value in the request, read from its file by the CLI) or `[NAME]` (what `get -o yaml`
 * shows): name → value, or null to keep the value the function has.
 */
function parseSecrets(field: Field, raw: unknown): { value: unknown } | { problem: string } {
  let entries: Array<[string, unknown]>;
  if (Array.isArray(raw)) entries = raw.map((name) => [String(name), null]);
  else if (raw && typeof raw === 'object') entries = Object.entries(raw);
  else return { problem: `${field.key}: must be a map of names to values, or a list of names` };
  const secrets: Record<string, string | null> = {};
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) return { problem: `${field.key}: ${shown(name)} is not a variable name` };
    if (name.startsWith('PILOTLIGHT_')) {
      return { problem: `${field.key}: ${name} is reserved for the adapter (PILOTLIGHT_*)` };
    }
    if (value !== null && typeof value !== 'string') {
      return { problem: `${field.key}: the value of ${name} must be text` };
    }
    secrets[name] = value;
  }
  return { value: secrets };
}

/** `["K=V", …]` (flags) or `{K: V}` (a file) → a map; PILOTLIGHT_* is the adapter's. */
function parseEnv(field: Field, raw: unknown): { value: unknown } | { problem: string } {
  const entries: Array<[string, string]> = [];
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const text = String(item);
      const eq = text.indexOf('=');
      if (eq <= 0) return { problem: `${field.key}: ${shown(text)} must be KEY=VALUE` };
      entries.push([text.slice(0, eq), text.slice(eq + 1)]);
    }
  } else if (raw && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) entries.push([key, String(value)]);
  } else {
    return { problem: `${field.key}: must be a list of KEY=VALUE or a map of names to values` };
  }
  const reserved = entries.find(([key]) => key.startsWith('PILOTLIGHT_'));
  if (reserved) return { problem: `${field.key}: ${reserved[0]} is reserved for the adapter (PILOTLIGHT_*)` };
  const bad = entries.find(([key]) => !ENV_NAME.test(key));
  if (bad) return { problem: `${field.key}: ${shown(bad[0])} is not a variable name` };
  return { value: Object.fromEntries(entries) };
}

/** A value as a problem names it: as typed, quoted only when it would not be seen (empty, spaces) or is not text. */
export function shown(raw: unknown): string {
  if (typeof raw === 'string') return raw && !/\s/.test(raw) ? raw : JSON.stringify(raw);
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return JSON.stringify(raw) ?? String(raw);
}

/** The closest known key to a mistyped one (edit distance ≤ 3), for "did you mean". */
export function closestKey(unknown: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const field of FIELDS) {
    const distance = editDistance(unknown.toLowerCase(), field.key.toLowerCase());
    if (distance <= 3 && (!best || distance < best.distance)) best = { key: field.key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The fields as the README's table: key, flag, default, allowed range, doc. */
export function fieldsTable(): string {
  const rows = (FIELDS as readonly Field[]).map((field) => {
    const flag = `\`--${field.flag}\`${field.short ? `, \`-${field.short}\`` : ''}`;
    const range = describeRange(field) ?? '';
    const required = field.required ? 'required' : describeDefault(field);
    return `| \`${field.key}\` | ${field.key === 'image' ? 'positional' : flag} | ${required} | ${range} | ${field.doc} |`;
  });
  return [
    '| field | flag | default | allowed | what it is |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * The instance contract, version 1 (docs/contract.md): everything the runner and the adapter agree on — the
 * port, the control paths, the headers, the environment, and the error envelope with its codes. The adapter
 * implements it; the runner depends on it and on nothing else of the adapter's.
 */

export const CONTRACT_VERSION = 1;

/** The adapter's one port in every instance. */
export const ADAPTER_PORT = 9000;

/** Everything under this prefix is the runner's, never the app's. */
export const CONTROL_PREFIX = '/_/';

export const CONTROL_PATHS = {
  ready: '/_/ready',
  health: '/_/health',
  /** Whether the app begins an answer to a probe of its own (see adapter/src/app-liveness.ts). */
  live: '/_/live',
  stats: '/_/stats',
  invoke: '/_/invoke',
  initialize: '/_/initialize',
  preStop: '/_/pre-stop',
  preFreeze: '/_/pre-freeze',
} as const;

/**
 * What an HTTP message's head may hold, the same at the edge and through the adapter: a request's header block
 * over REQUEST_HEADER_BYTES is answered 431; an app's answer with a larger block than ANSWER_HEADER_BYTES, or
 * more than HEADER_LINES header lines either way, is not taken (400 for a request, 502 for an answer).
 */
export const MESSAGE_LIMITS = {
  requestHeaderBytes: 16 * 1024,
  answerHeaderBytes: 30 * 1024,
  headerLines: 1000,
} as const;

/** Headers of ours all start with this; any a caller sends is removed before the app sees the request. */
export const OWN_HEADER_PREFIX = 'x-pilotlight-';

export const HEADERS = {
  /** Kept from the caller when sane, else made; on every answer. */
  requestId: 'x-request-id',
  /** On every answer the adapter or the runner makes itself, with the error code. */
  error: 'x-pilotlight-error',
  /** To the app: JSON {function, revision, instance, requestId, deadline}. */
  context: 'x-pilotlight-context',
  /** From the runner: the instance it means; another instance refuses with 421. */
  instance: 'x-pilotlight-instance',
  /** From /_/invoke: the app's status, when it is a function error. */
  functionError: 'x-pilotlight-function-error',
  /** To the runner's gateway or invoke API: `Event` makes the call async (202, stored, retried). */
  invocationType: 'x-pilotlight-invocation-type',
  /** A caller's own id for an async event (at most 128 characters): the same id is executed once. */
  invocationId: 'x-pilotlight-invocation-id',
} as const;

/** The environment the runner gives an instance and the adapter reads (the adapter's other settings aside). */
export const ENV = {
  port: 'PILOTLIGHT_PORT',
  appPort: 'PILOTLIGHT_APP_PORT',
  appEntrypoint: 'PILOTLIGHT_APP_ENTRYPOINT',
  /** `1`: more of the environment (secrets) comes on stdin, as a JSON array of `NAME=VALUE` strings. */
  envOnStdin: 'PILOTLIGHT_ENV_ON_STDIN',
  function: 'PILOTLIGHT_FUNCTION',
  revision: 'PILOTLIGHT_REVISION',
  instance: 'PILOTLIGHT_INSTANCE',
  maxInflight: 'PILOTLIGHT_MAX_INFLIGHT',
  maxQueued: 'PILOTLIGHT_MAX_QUEUED',
  requestTimeoutMs: 'PILOTLIGHT_REQUEST_TIMEOUT_MS',
  drainTimeoutMs: 'PILOTLIGHT_DRAIN_TIMEOUT_MS',
  startupTimeoutMs: 'PILOTLIGHT_STARTUP_TIMEOUT_MS',
  errorStatuses: 'PILOTLIGHT_ERROR_STATUSES',
  readiness: 'PILOTLIGHT_READINESS',
  readinessPath: 'PILOTLIGHT_READINESS_PATH',
  readinessStatus: 'PILOTLIGHT_READINESS_STATUS',
  initializer: 'PILOTLIGHT_INITIALIZER',
  initializeTimeoutMs: 'PILOTLIGHT_INITIALIZE_TIMEOUT_MS',
  preStop: 'PILOTLIGHT_PRE_STOP',
  preFreeze: 'PILOTLIGHT_PRE_FREEZE',
  hookTimeoutMs: 'PILOTLIGHT_HOOK_TIMEOUT_MS',
  eventsPath: 'PILOTLIGHT_EVENTS_PATH',
  maxEventBytes: 'PILOTLIGHT_MAX_EVENT_BYTES',
  maxBodyBytes: 'PILOTLIGHT_MAX_BODY_BYTES',
} as const;

/** The User-Agent of the adapter's readiness probes, so an app can tell them from users' requests. */
export const PROBE_USER_AGENT = 'pilotlight-probe';

/** How long an app has to answer a liveness probe (`/_/live`): its request timeout, within 1 to 5 s. */
export function livenessProbeMs(requestTimeoutMs: number): number {
  return Math.min(5000, Math.max(1000, requestTimeoutMs));
}

/** The adapter's own exit codes (any other is the app's, passed on). */
export const ADAPTER_EXIT = {
  /** A setting was bad: the line before names it. */
  badConfig: 78,
  /** The adapter itself failed: its stack is on stderr. */
  crashed: 70,
  /** The app reached the container's pids limit (a fork bomb, a thread leak): the instance goes. */
  pidsLimit: 75,
  /** A request timed out and the app began no answer to any request meanwhile: it is stuck, the instance goes. */
  appStuck: 69,
} as const;

/** Every adapter setting is named with this prefix; the app's environment has none of them. */
export const ENV_PREFIX = 'PILOTLIGHT_';

/** The codes of the answers the adapter makes itself (`x-pilotlight-error` and `error.code`). */
export type AdapterErrorCode =
  | 'MALFORMED_EVENT'
  | 'UNKNOWN_CONTROL_PATH'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'INSTANCE_MISMATCH'
  | 'APP_UNREACHABLE'
  | 'APP_OOM_KILLED'
  | 'APP_EXITED'
  | 'OVERLOADED'
  | 'DRAINING'
  | 'APP_NOT_READY'
  | 'TIMEOUT'
  | 'ADAPTER_FAILURE'
  | `${'INITIALIZER' | 'PRE_STOP' | 'PRE_FREEZE'}_${'FAILED' | 'TIMEOUT'}`;

/** Adapter answers that reached no app: the caller may send the request to another instance. */
export const NOT_SERVED_CODES: ReadonlySet<string> = new Set<AdapterErrorCode>([
  'INSTANCE_MISMATCH',
  'APP_EXITED',
  'DRAINING',
]);

/** The body of every error answer, the adapter's and the runner's alike. */
export interface ErrorEnvelope {
  error: { code: string; message: string; requestId?: string; [detail: string]: unknown };
}

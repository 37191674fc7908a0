import { HEADERS, MESSAGE_LIMITS, OWN_HEADER_PREFIX } from '../../../adapter/contract/contract.js';
import type { EdgePaths } from './edge-paths.js';
import { hopByHopRules } from './hop-by-hop.js';
import { availableParallelism } from 'node:os';
import { configuredForm, serverForm, type ServerForm } from './server-form.js';

/** Where a server stands at the edge: taking requests, finishing its own (drain), or taking none (maint). */
export type ServerState = 'ready' | 'drain' | 'maint';

/**
 * One of a backend's servers. Servers are declared in the configuration as numbered slots and given to
 * instances at run time (address, maxconn, state): HAProxy 2.6 keeps idle connections to configured servers
 * for reuse, but opens a new connection per request to a server added at run time.
 */
export interface EdgeSlot {
  /** The instance in the slot; undefined while it is free. */
  instance: string | undefined;
  /** IP:PORT the edge connects to: the app's port, or the adapter's when the app listens on loopback only. */
  address: string;
  maxconn: number;
  state: ServerState;
}

/** A free slot's address: nothing listens there, and a free slot is in maintenance anyway. */
export const FREE_ADDRESS = '0.0.0.0:1';

export function slotName(index: number): string {
  return `s${index + 1}`;
}

/** What a function asks of its backend that can change at run time: kept in the settings map, not the configuration. */
export interface FunctionSettings {
  fn: string;
  revision: number;
  timeoutMs: number;
  tunnelTimeoutMs: number;
  /** How long the activator may hold a request while an instance wakes or starts. */
  activationWaitMs: number;
  maxBodyBytes?: number | undefined;
}

/**
 * One backend of the edge's pool. A backend is given to a function at run time (the functions map routes the
 * function's requests to it, the settings map holds what the function asks of it), so that deploying or
 * removing a function needs no reload; only what HAProxy 2.6 cannot change at run time is in the
 * configuration: the queue's timeout and the number of slots.
 */
export interface EdgeBackend {
  name: string;
  /** How long a request may wait for a free slot in the backend's queue. */
  queueTimeoutMs: number;
  slots: EdgeSlot[];
  /** The function it serves (or served, while its last requests finish); undefined for a spare. */
  settings: FunctionSettings | undefined;
  /** Its function is gone: no request is routed to it, and it becomes a spare once its slots are free. */
  retiring: boolean;
}

export interface EdgeListen {
  host: string;
  port: number;
}

/** How the edge process itself runs. */
export interface EdgeTuning {
  /**
   * Never sleep between events: each hop saves a wakeup (about 0.1 ms of warm p50 measured here, and more
   * throughput) at the cost of one CPU kept busy per edge thread, idle or not.
   */
  busyPolling: boolean;
}

export const DEFAULT_EDGE_TUNING: EdgeTuning = { busyPolling: false };

/** Requests whose header block is larger get 431, as Node's own server answers (16 KiB). */
const MAX_HEADER_BYTES = MESSAGE_LIMITS.requestHeaderBytes;
/** A client must have sent its request line and headers within this: a slow client gets 408. */
const REQUEST_HEADERS_TIMEOUT_MS = 10_000;
/** Idle keep-alive connections from clients close after this (longer than common clients' pools). */
const CLIENT_IDLE_MS = 65_000;
/** Old workers after a reload finish their requests for at most this long (the longest function timeout). */
const HARD_STOP_AFTER_MS = 2 * 3600_000 + 60_000;

export const ACTIVATOR_SERVER = '_activator';
/** The `activated` frontend's answer while the function has no server up: the activator waits and retries. */
export const EDGE_NOT_READY = 'EDGE_NOT_READY';
export const FUNCTION_HEADER = `${OWN_HEADER_PREFIX}function`;

/** The pool's backends are numbered: a backend outlives the function it serves, and may serve another after. */
export function backendName(index: number): string {
  return `pool${index}`;
}

/** The error envelope of the contract, made by the edge with the request id. */
function errorBody(code: string, message: string): string {
  if (/['"\\]/.test(message)) throw new Error(`an edge error message may not quote: ${message}`);
  return `'{"error":{"code":"${code}","message":"${message}","requestId":"%[var(txn.rid)]"}}'`;
}

function notReady(): string {
  return errorAnswer(503, EDGE_NOT_READY, 'no instance of the function takes requests at the edge yet');
}

function errorAnswer(status: number, code: string, message: string): string {
  return `status ${status} content-type application/json hdr ${HEADERS.error} ${code} lf-string ${errorBody(code, message)}`;
}

/** How a slot's server starts in a new worker (see server-form.ts): as its view says, unless told. */
export type FormOf = (slot: EdgeSlot) => ServerForm;

/** The whole HAProxy configuration: the edge frontend, the activated frontend, and a backend per function. */
export function renderEdgeConfig(
  paths: EdgePaths,
  listen: EdgeListen,
  backends: EdgeBackend[],
  tuning: EdgeTuning = DEFAULT_EDGE_TUNING,
  formOf: FormOf = (slot) => serverForm(slot, 0),
): string {
  return [
    ...globalSection(paths, tuning),
    ...defaultsSection(paths),
    ...edgeFrontend(paths, listen),
    ...activatedFrontend(paths),
    ...runnerBackends(paths),
    ...backends.flatMap((backend) => functionBackend(paths, backend, formOf)),
    '',
  ].join('\n');
}

/** PILOTLIGHT_EDGE_LOG=HOST:PORT sends HAProxy's request log there (syslog over UDP), for debugging. */
const LOG_TARGET = process.env['PILOTLIGHT_EDGE_LOG'];

/**
 * Proxying is a small share of a request's CPU next to the app's, and the apps run on the same host: one thread
 * per four CPUs, so the edge does not crowd them out.
 */
export function edgeThreads(cpus: number): number {
  return Math.max(1, Math.floor(cpus / 4));
}

function globalSection(paths: EdgePaths, tuning: EdgeTuning): string[] {
  return [
    'global',
    `  nbthread ${edgeThreads(availableParallelism())}`,
    ...(tuning.busyPolling ? ['  busy-polling'] : []),
    ...(LOG_TARGET ? [`  log ${LOG_TARGET} local0`] : []),
    '  master-worker',
    `  lua-load ${paths.lua}`,
    // The runner asks often (samples, drains, the activator): more than the default 10 connections at once.
    `  stats socket ${paths.admin} mode 600 level admin expose-fd listeners maxconn 256`,
    '  stats timeout 10s',
    `  hard-stop-after ${HARD_STOP_AFTER_MS}`,
    // Large enough for a 16 KiB request header block plus rewrites, and an answer's 30 KiB one; larger blocks
    // are refused before any rule.
    '  tune.bufsize 32768',
    // HAProxy's default is 101 lines (Apache's): a valid request of 16 KiB can hold many more.
    `  tune.http.maxhdr ${MESSAGE_LIMITS.headerLines}`,
    '',
  ];
}

function defaultsSection(paths: EdgePaths): string[] {
  return [
    'defaults',
    '  mode http',
    ...(LOG_TARGET ? ['  log global', '  option httplog'] : []),
    '  option http-keep-alive',
    // Not `option abortonclose`: it answers 400 to a client that half-closes after a complete request, and it
    // frees a server's maxconn slot while the app still works on the abandoned request (concurrency overrun).
    // Streamed answers go out chunk by chunk as the app writes them, not merged into fuller packets.
    '  option http-no-delay',
    // Not `option idle-close-on-response`: it lets the old process of a reload answer the next request of each
    // idle connection with its state from before the reload, whose servers may be gone since.
    '  timeout connect 3000',
    `  timeout client ${CLIENT_IDLE_MS}`,
    `  timeout http-keep-alive ${CLIENT_IDLE_MS}`,
    `  timeout http-request ${REQUEST_HEADERS_TIMEOUT_MS}`,
    '  timeout server 30000',
    '  timeout tunnel 3600000',
    '  timeout queue 30000',
    // The 400 and 408 of a request HAProxy could not read come from its built-in pages in 2.6, which ignores
    // these for such early errors (haproxy/haproxy#3032). Later 3.2 releases use the static 400 file; the
    // 408's lf-string needs a stream, which such an error never has.
    `  errorfile 400 ${paths.badRequest}`,
    `  http-error ${errorAnswer(408, 'REQUEST_TIMEOUT', 'the request line and headers did not arrive within 10 s')}`,
    `  http-error ${errorAnswer(502, 'APP_UNREACHABLE', 'the app closed the connection without a valid HTTP answer (it may have crashed), or its answer was not valid HTTP or had too large a head')}`,
    `  http-error ${errorAnswer(503, 'NO_CAPACITY', 'no instance had room in time: retry shortly')}`,
    `  http-error ${errorAnswer(504, 'TIMEOUT', 'the function did not answer within its timeout')}`,
    '',
  ];
}

function edgeFrontend(paths: EdgePaths, listen: EdgeListen): string[] {
  return [
    'frontend edge',
    `  bind ${listen.host}:${listen.port}`,
    '  option forwardfor',
    // `/_/` however it is spelled: many apps read `//_/`, `/%5F/` and `/x/../_/` as `/_/` (HAProxy 2.6's
    // normalize-uri is experimental, so the path is judged decoded, slashes merged, and never rewritten).
    '  acl reserved_path path,url_dec,regsub(/+,/,g) -m beg /_/',
    '  acl reserved_path path,url_dec,regsub(/+,/,g) -m reg /\\.\\.?/(.*/)?_/',
    `  http-request set-var(txn.rid) req.hdr(${HEADERS.requestId}) if { req.hdr(${HEADERS.requestId}) -m reg ^[-A-Za-z0-9_.:@/+=]{1,200}$ }`,
    '  http-request set-var(txn.rid) uuid if !{ var(txn.rid) -m found }',
    `  http-request set-header ${HEADERS.requestId} %[var(txn.rid)]`,
    `  http-after-response set-header ${HEADERS.requestId} %[var(txn.rid)] if !{ res.hdr(${HEADERS.requestId}) -m found }`,
    `  http-request return ${errorAnswer(431, 'HEADERS_TOO_LARGE', `the request headers exceed ${MAX_HEADER_BYTES} bytes`)} if { req.hdrs,length gt ${MAX_HEADER_BYTES} }`,
    '  http-request return status 200 content-type text/plain string "ok\\n" if { path /healthz }',
    '  http-request set-var(txn.lambda) bool(1) if { method POST } { path_beg /2015-03-31/functions/ }',
    // Host: NAME.localhost[:PORT] first, then /fn/NAME/… with the prefix stripped. The Host is read whole
    // (fhdr, not split at commas) and once.
    '  http-request set-var(txn.hostname) req.fhdr(host),lower,field(1,:)',
    '  acl host_route var(txn.hostname) -m end .localhost',
    '  http-request set-var(txn.fn) var(txn.hostname),regsub(\\.localhost$,) if !{ var(txn.lambda) -m found } host_route',
    '  http-request set-var(txn.fn) path,field(3,/) if !{ var(txn.fn) -m found } !{ var(txn.lambda) -m found } { path_beg /fn/ }',
    '  http-request set-uri %[pathq,regsub(^/fn/[^/]*/?,/)] if !{ var(txn.lambda) -m found } !host_route { path_beg /fn/ }',
    `  http-request return ${errorAnswer(404, 'NOT_ROUTED', 'send requests to /fn/NAME/… or with Host: NAME.localhost')} if !{ var(txn.fn) -m found } !{ var(txn.lambda) -m found }`,
    `  http-request return ${errorAnswer(403, 'RESERVED_PATH', `paths under /_/ belong to the runner and never reach a function`)} if reserved_path !{ var(txn.lambda) -m found }`,
    `  http-request set-header x-forwarded-proto http if !{ req.hdr(x-forwarded-proto) -m found }`,
    `  http-request set-header x-forwarded-host %[req.fhdr(host)] if !{ req.hdr(x-forwarded-host) -m found } { req.fhdr(host) -m found }`,
    ...forwardedRules(),
    ...hopByHopRules(),
    `  http-request del-header ${FUNCTION_HEADER}`,
    `  http-request set-header ${FUNCTION_HEADER} %[var(txn.fn)] if { var(txn.fn) -m found }`,
    '  use_backend runner if { var(txn.lambda) -m found }',
    `  use_backend runner if { req.hdr(${HEADERS.invocationType}) -i event }`,
    `  use_backend %[var(txn.fn),map(${paths.functions},unknown)]`,
    '  default_backend unknown',
    '',
  ];
}

/**
 * RFC 7239's Forwarded for this hop, appended to what earlier proxies sent, as the adapter writes it: the
 * caller's address (an IPv6 one quoted in brackets), the Host when it is a plain name, and the protocol.
 */
function forwardedRules(): string[] {
  return [
    `  http-request set-var-fmt(txn.fwd_for) 'for="[%[src]]"' if { src -m sub : }`,
    `  http-request set-var-fmt(txn.fwd_for) 'for=%[src]' if !{ var(txn.fwd_for) -m found }`,
    `  http-request set-var-fmt(txn.fwd_host) ';host="%[req.fhdr(host)]"' if { req.fhdr(host) -m reg ^[][A-Za-z0-9.:-]+$ }`,
    `  http-request add-header forwarded '%[var(txn.fwd_for)]%[var(txn.fwd_host)];proto=http'`,
  ];
}

/**
 * Requests the activator held, sent back in once an instance is ready: the backend's maxconn applies. The
 * backend tells the activator `EDGE_NOT_READY` if no server takes requests after all (see functionBackend).
 */
function activatedFrontend(paths: EdgePaths): string[] {
  return [
    'frontend activated',
    `  bind ${paths.activated} mode 600`,
    `  http-request set-var(txn.rid) req.hdr(${HEADERS.requestId})`,
    `  http-request set-var(txn.backend) req.hdr(${FUNCTION_HEADER}),map(${paths.functions})`,
    '  use_backend %[var(txn.backend)] if { var(txn.backend) -m found }',
    '  default_backend not_ready',
    '',
  ];
}

function runnerBackends(paths: EdgePaths): string[] {
  return [
    'backend runner',
    `  timeout server ${HARD_STOP_AFTER_MS}`,
    `  http-error ${errorAnswer(503, 'RUNNER_UNAVAILABLE', 'the runner is not running: async events and Lambda calls are taken again once it is back')}`,
    `  server _runner ${paths.runner}`,
    '',
    // A name this configuration does not know may be a function deployed since (a client kept its
    // connection to the worker of an older configuration): the runner knows every function.
    'backend unknown',
    `  timeout server ${HARD_STOP_AFTER_MS}`,
    `  http-error ${errorAnswer(503, 'RUNNER_UNAVAILABLE', 'the runner is not running, and this edge does not know the function')}`,
    `  server _runner ${paths.runner}`,
    '',
    'backend not_ready',
    `  http-request return ${notReady()}`,
    '',
  ];
}

/** The functions map (`EdgePaths.functions`): each function's backend, for routing. */
export function renderFunctionsMap(backends: EdgeBackend[]): string {
  return backends
    .filter((backend) => backend.settings && !backend.retiring)
    .map((backend) => `${backend.settings!.fn} ${backend.name}\n`)
    .join('');
}

/** The settings map (`EdgePaths.settings`): each backend's function and what it asks of the backend. */
export function renderSettingsMap(backends: EdgeBackend[]): string {
  return backends
    .filter((backend) => backend.settings)
    .map((backend) => `${backend.name} ${settingsValue(backend.settings!)}\n`)
    .join('');
}

/** The fields a backend reads from its settings map entry, in order, split at `|` (no name holds one). */
const SETTINGS_FIELDS = [
  'fn',
  'revision',
  'timeoutMs',
  'tunnelTimeoutMs',
  'activationTimeoutMs',
  'maxBodyBytes',
];

export function settingsValue(settings: FunctionSettings): string {
  const fields: Record<(typeof SETTINGS_FIELDS)[number], string | number> = {
    fn: settings.fn,
    revision: settings.revision,
    timeoutMs: settings.timeoutMs,
    tunnelTimeoutMs: settings.tunnelTimeoutMs,
    // Bound for the activator: a wake or a start does not count against the function's timeout (the runner
    // ends a request to an instance at its deadline whatever this says).
    activationTimeoutMs: settings.activationWaitMs + settings.timeoutMs + 5000,
    // 0: no limit.
    maxBodyBytes: settings.maxBodyBytes ?? 0,
  };
  return SETTINGS_FIELDS.map((field) => fields[field]).join('|');
}

/** The sample expression of one field of the backend's settings (read into txn.settings first). */
function setting(field: (typeof SETTINGS_FIELDS)[number]): string {
  return `var(txn.settings),field(${SETTINGS_FIELDS.indexOf(field) + 1},|)`;
}

function functionBackend(paths: EdgePaths, backend: EdgeBackend, formOf: FormOf): string[] {
  const context =
    `'{"function":"%[${setting('fn')}]","revision":"%[${setting('revision')}]","requestId":"%[var(txn.rid)]",` +
    `"deadline":%[date(0,ms),add(txn.timeout)]}'`;
  return [
    `backend ${backend.name}`,
    '  balance leastconn',
    `  timeout queue ${backend.queueTimeoutMs}`,
    // A connection refused reached no app: another instance (or the activator) gets the request.
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure',
    `  http-request set-var(txn.settings) be_name,map(${paths.settings})`,
    `  http-request set-var(txn.timeout) ${setting('timeoutMs')}`,
    `  http-request set-var(txn.maxbody) ${setting('maxBodyBytes')}`,
    `  http-request set-timeout server var(txn.timeout)`,
    `  http-request set-timeout tunnel ${setting('tunnelTimeoutMs')}`,
    `  http-request return ${errorAnswer(413, 'BODY_TOO_LARGE', 'the request body exceeds the maxBodySize of the function, %[var(txn.maxbody)] bytes')} if { var(txn.maxbody) -m int gt 0 } { req.hdr_val(content-length),sub(txn.maxbody) gt 0 }`,
    `  http-request del-header ^${OWN_HEADER_PREFIX} -m reg`,
    `  http-request set-header ${HEADERS.context} ${context}`,
    ...instanceUpAcl('instance_up', backend),
    ...takingRequests(backend),
    // Bound for the activator when no server takes requests (none up, or all held): its wait does not count.
    `  http-request set-timeout server ${setting('activationTimeoutMs')} if !{ var(txn.taking) -m found }`,
    // Sent back in by the activator while no server takes requests (held, or found down since): the backup
    // would be the activator itself again. It waits instead.
    `  http-request return ${notReady()} if !{ var(txn.taking) -m found } { fe_name activated }`,
    // The runner's check first: while it answers, instance_up is not evaluated a second time per request.
    `  http-request return ${errorAnswer(503, 'RUNNER_UNAVAILABLE', 'the runner is not running and no instance of the function is up: it is woken or started once the runner is back')} if !{ srv_is_up(${backend.name}/${ACTIVATOR_SERVER}) } !instance_up`,
    ...heldFallback(backend),
    ...backend.slots.map((slot, index) => serverLine(slot, index, configuredForm(formOf(slot)))),
    // Checked, so that a runner that is down is known here (its socket refuses) and said so above.
    `  server ${ACTIVATOR_SERVER} ${paths.runner} backup check inter 1s fall 1 rise 1`,
    '',
  ];
}

/**
 * An ACL true while one of the function's instances is up at the edge (ready and not found down). Not
 * `nbsrv`: with no instance up it counts the backup server, the activator, and is 1.
 */
function instanceUpAcl(name: string, backend: EdgeBackend): string[] {
  return backend.slots.map((_slot, index) => `  acl ${name} srv_is_up(${backend.name}/${slotName(index)})`);
}

/**
 * A connection refused marks the server down at once, and a TCP check every second tells it again: the
 * runner reads DOWN in its next sample and replaces the instance, whatever the engine's events said.
 */
export const SERVER_HEALTH = 'check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down';

function serverLine(slot: EdgeSlot, index: number, form: ServerForm): string {
  const state = form.state === 'maint' ? ' disabled' : form.state === 'held' ? ' weight 0' : '';
  const maxconn = 'maxconn' in form ? form.maxconn : slot.maxconn;
  return `  server ${slotName(index)} ${slot.address} maxconn ${maxconn} ${SERVER_HEALTH}${state}`;
}

/**
 * While the runner is down (its check fails), a held server (up at weight 0, see server-form.ts) takes requests
 * while it has room, as if given back: no one else would give it back, and its instance is warm. A draining
 * server is at weight 0 too, but keeps its user weight.
 */
function heldFallback(backend: EdgeBackend): string[] {
  const held = (index: number) => `{ srv_uweight(${backend.name}/${slotName(index)}) eq 0 }`;
  const room = (index: number) => `{ srv_conn_free(${backend.name}/${slotName(index)}) gt 0 }`;
  return [
    `  acl runner_up srv_is_up(${backend.name}/${ACTIVATOR_SERVER})`,
    ...backend.slots.map(
      (_slot, index) => `  use-server ${slotName(index)} if !runner_up ${held(index)} ${room(index)}`,
    ),
    // None has room: the request waits in the first held server's queue rather than being refused.
    ...backend.slots.map((_slot, index) => `  use-server ${slotName(index)} if !runner_up ${held(index)}`),
  ];
}

/**
 * `txn.taking` is set when a server of the backend takes requests now: up, and not held (weight 0). Rule by
 * rule, as an ACL cannot join two fetches per server; each rule after the first found asks only the variable.
 */
function takingRequests(backend: EdgeBackend): string[] {
  return backend.slots.map((_slot, index) => {
    const id = `${backend.name}/${slotName(index)}`;
    return `  http-request set-var(txn.taking) bool(1) if !{ var(txn.taking) -m found } { srv_is_up(${id}) } { srv_uweight(${id}) gt 0 }`;
  });
}

/** The fixed answer to a request HAProxy could not parse (CRLF line ends, as the file format wants). */
export function badRequestFile(): string {
  const body =
    '{"error":{"code":"BAD_REQUEST","message":"the request is not valid HTTP/1.1 (framing, header syntax or encoding)"}}';
  return [
    'HTTP/1.1 400 Bad Request',
    'content-type: application/json',
    `${HEADERS.error}: BAD_REQUEST`,
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

import { reachableDirectly } from './app-reach.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once as onceEvent } from 'node:events';
import type { AddressInfo } from 'node:net';
import { AdapterError, sendAdapterError, sendJson } from '../forward/adapter-error.js';
import { createAppEndpoint, type AppEndpoint } from '../forward/app-endpoint.js';
import { appAnswers, AppLiveness } from './app-liveness.js';
import type { AppProcess } from './app-process.js';
import type { AdapterConfig } from './config.js';
import { memoryLimitBytes, oomKillCount } from './cgroup-memory.js';
import {
  appRequestHeaders,
  INSTANCE_HEADER,
  requestIdFrom,
  type InvocationContext,
} from '../forward/forward-headers.js';
import { InflightLimiter, type Release } from './inflight-limiter.js';
import { invokeEvent } from './invoke-event.js';
import type { Logger } from './logger.js';
import { proxyRequest } from '../forward/proxy-request.js';
import { waitUntilReady } from './readiness.js';
import { runHook } from './run-hook.js';
import { once } from './run-once.js';
import { AdapterStats } from './stats.js';
import { CONTROL_PATHS, CONTROL_PREFIX, livenessProbeMs } from '../contract/contract.js';
import { disguisedReserved, originForm } from './request-target.js';

export type AdapterState = 'starting' | 'ready' | 'failed' | 'draining' | 'stopped';

export interface AdapterDeps {
  config: AdapterConfig;
  logger: Logger;
  /** The environment hooks and the app run with (the adapter's own settings removed). */
  appEnv: Record<string, string | undefined>;
  /** Starts the app; absent when the app is run by someone else. */
  startApp?: () => AppProcess;
  /** The container's memory cgroup (default /sys/fs/cgroup): OOM kills are read from it. */
  cgroupRoot?: string;
}

/** The adapter: pass-through to the app, the control paths under /_/, and the app's lifecycle. */
export class Adapter {
  state: AdapterState = 'starting';
  readonly stats = new AdapterStats();
  private readonly server: Server;
  private readonly app: AppEndpoint;
  private readonly liveness: AppLiveness;
  private readonly limiter: InflightLimiter;
  private appProcess: AppProcess | undefined;
  private ready!: Promise<void>;
  private failure: string | undefined;
  private lastProbe: string | undefined;
  /** Whether the app answers on the container's own address too, not only on loopback. */
  private direct = false;
  private readonly initialize: () => Promise<unknown>;
  private readonly preStop: () => Promise<unknown>;
  private readonly oomKillsAtStart: number | undefined;

  constructor(private readonly deps: AdapterDeps) {
    this.oomKillsAtStart = oomKillCount(deps.cgroupRoot);
    const { config } = deps;
    this.liveness = new AppLiveness(
      () => this.probeLiveness(),
      Date.now,
      (timedOutAfterMs) =>
        deps.logger.info('a request timed out with no answer begun meanwhile, but the app answers a probe', {
          timedOutAfterMs,
        }),
    );
    this.app = { ...createAppEndpoint(config.appHost, config.appPort), watch: this.liveness };
    this.limiter = new InflightLimiter(config.maxInflight, config.maxQueued);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
    this.initialize = once(() =>
      this.runLifecycleHook('initializer', config.initializer, 'POST', config.initializeTimeoutMs),
    );
    this.preStop = once(() => this.runLifecycleHook('pre-stop', config.preStop, 'GET', config.hookTimeoutMs));
  }

  /** Listens, starts the app and begins probing it; returns the bound port. */
  async start(): Promise<number> {
    // The app first: every millisecond before it starts is added to a cold start.
    this.appProcess = this.deps.startApp?.();
    this.server.listen(this.deps.config.port, this.deps.config.host);
    await onceEvent(this.server, 'listening');
    this.ready = waitUntilReady(
      this.deps.config,
      () => this.appProcess?.exitReason(),
      (reason) => (this.lastProbe = reason),
    ).then(
      async (ms) => {
        this.direct = await reachableDirectly(this.deps.config.appPort);
        if (this.state === 'starting') this.state = 'ready';
        this.deps.logger.info('app ready', { readyAfterMs: ms, appPort: this.deps.config.appPort });
      },
      (error: Error) => {
        this.failure = error.message;
        if (this.state === 'starting') this.state = 'failed';
        this.deps.logger.error('app never became ready', { reason: error.message });
      },
    );
    return (this.server.address() as AddressInfo).port;
  }

  private readyWithin(ms: number): Promise<void> {
    return Promise.race([this.ready, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  get appExited(): Promise<number> | undefined {
    return this.appProcess?.exited;
  }

  /** Whether the app begins an answer to a probe within its liveness time (see app-liveness.ts). */
  private probeLiveness(): Promise<boolean> {
    return appAnswers(this.deps.config, livenessProbeMs(this.deps.config.requestTimeoutMs));
  }

  /** Resolves with the reason once the app is found stuck (see app-liveness.ts). */
  get appStuck(): Promise<string> {
    return this.liveness.stuck;
  }

  /**
   * SIGTERM: stop taking requests, let those in flight finish (up to the drain timeout), run pre-stop, pass
   * SIGTERM to the app and resolve with its exit code.
   */
  async shutdown(): Promise<number> {
    if (this.state === 'draining' || this.state === 'stopped') return this.appProcess?.exited ?? 0;
    this.state = 'draining';
    this.server.close();
    this.server.closeIdleConnections();
    const drained = await this.drain(this.deps.config.drainTimeoutMs);
    this.deps.logger.info('drained', { drained, inflight: this.stats.inflight });
    await this.preStop().catch(() => undefined);
    let code = 0;
    if (this.appProcess && !this.appProcess.exitReason()) {
      this.appProcess.signal('SIGTERM');
      code = await this.appProcess.exited;
    } else if (this.appProcess) {
      code = await this.appProcess.exited;
    }
    this.state = 'stopped';
    this.server.closeAllConnections();
    this.deps.logger.info('stopped', { exitCode: code, reason: this.appProcess?.exitReason() });
    return code;
  }

  /** Waits until no request is in flight or queued; false when the timeout came first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.inflight + this.limiter.queued > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    this.app.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { path: url, absolute } = originForm(req.url ?? '/');
    const meant = req.headers[INSTANCE_HEADER];
    if (typeof meant === 'string' && meant !== this.deps.config.context.instance) {
      return this.answerError(res, this.notMeant(meant), requestIdFrom(req.headers), req);
    }
    if (url.startsWith(CONTROL_PREFIX)) {
      if (absolute) return this.answerError(res, reservedInAbsoluteForm(), requestIdFrom(req.headers), req);
      return this.control(url, req, res);
    }
    if (disguisedReserved(url, CONTROL_PREFIX)) {
      return this.answerError(res, reservedInDisguise(), requestIdFrom(req.headers), req);
    }
    const requestId = requestIdFrom(req.headers);
    try {
      await this.admit(req, res, requestId, async (context) => {
        const outcome = await proxyRequest(this.app, req, res, {
          path: url,
          headers: appRequestHeaders(req.headers, context, {
            remoteAddress: req.socket.remoteAddress,
            host: req.headers.host,
            proto: 'http',
          }),
          timeoutMs: this.deps.config.requestTimeoutMs,
          requestId,
          ...(this.deps.config.maxBodyBytes > 0 ? { maxBodyBytes: this.deps.config.maxBodyBytes } : {}),
          explainFailure: (error, cause) => this.explainAppFailure(error, cause),
        });
        if (typeof outcome === 'string') this.noteFailure(outcome, requestId, req);
      });
    } catch (error) {
      this.answerError(res, error, requestId, req);
    }
  }

  /** Readiness, draining and the in-flight limit, then the work with its invocation context. */
  private async admit(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    work: (context: InvocationContext) => Promise<void>,
  ): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') {
      throw new AdapterError('DRAINING', 503, 'this instance is shutting down: retry on another one', {
        connection: 'close',
        'retry-after': '1',
      });
    }
    if (this.state === 'starting') await this.ready;
    if (this.state === 'failed') {
      throw new AdapterError('APP_NOT_READY', 503, `the app is not serving: ${this.failure}`);
    }
    const exit = this.appProcess?.exitReason();
    if (exit) throw this.appExitedError(exit);

    const slot = this.limiter.acquire(() => abortOnClose(res));
    if (!slot) {
      throw new AdapterError(
        'OVERLOADED',
        503,
        `${this.deps.config.maxInflight} requests are in flight and ${this.deps.config.maxQueued} queued (PILOTLIGHT_MAX_INFLIGHT, PILOTLIGHT_MAX_QUEUED): retry later`,
        { 'retry-after': '1' },
      );
    }
    let release: Release;
    try {
      release = slot instanceof Promise ? await slot : slot;
    } catch {
      return; // the client left while queued
    }
    const started = performance.now();
    this.stats.started();
    try {
      await work({
        ...this.deps.config.context,
        requestId,
        deadline: Date.now() + this.deps.config.requestTimeoutMs,
      });
    } finally {
      this.stats.finished(performance.now() - started);
      release();
    }
  }

  private async control(url: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = url.split('?')[0];
    const requestId = requestIdFrom(req.headers);
    const method = req.method ?? 'GET';
    try {
      switch (path) {
        case CONTROL_PATHS.ready:
          // ?wait=MS holds the answer until the app is ready (or MS pass): no polling delay on a cold start.
          if (this.state === 'starting' && url.includes('wait=')) await this.readyWithin(waitParam(url));
          return this.state === 'ready'
            ? sendJson(res, 200, { ready: true, direct: this.direct })
            : sendJson(res, 503, {
                ready: false,
                state: this.state,
                reason: this.failure ?? (this.lastProbe ? `last probe: ${this.lastProbe}` : null),
              });
        case CONTROL_PATHS.health: {
          const exit = this.appProcess?.exitReason();
          const healthy = !exit && (this.state === 'ready' || this.state === 'draining');
          return sendJson(res, healthy ? 200 : 503, {
            healthy,
            state: this.state,
            reason: exit ?? this.failure ?? null,
          });
        }
        case CONTROL_PATHS.live: {
          // The runner asks when the edge saw the app's requests fail with no answer for a whole timeout.
          return sendJson(res, 200, { answers: await this.probeLiveness() });
        }
        case CONTROL_PATHS.stats:
          return sendJson(res, 200, { state: this.state, ...this.stats.snapshot(this.limiter.queued) });
        case CONTROL_PATHS.invoke:
          requireMethod(method, ['POST']);
          return await this.admit(req, res, requestId, (context) =>
            invokeEvent(this.app, this.deps.config, req, res, context),
          );
        case CONTROL_PATHS.initialize:
          requireMethod(method, ['POST']);
          if (this.state === 'starting') await this.ready;
          return sendJson(res, 200, { initialized: true, ...((await this.initialize()) as object) });
        case CONTROL_PATHS.preStop:
          requireMethod(method, ['GET', 'POST']);
          return sendJson(res, 200, { ...((await this.preStop()) as object) });
        case CONTROL_PATHS.preFreeze:
          requireMethod(method, ['GET', 'POST']);
          return sendJson(
            res,
            200,
            await this.runLifecycleHook(
              'pre-freeze',
              this.deps.config.preFreeze,
              'GET',
              this.deps.config.hookTimeoutMs,
            ),
          );
        default:
          throw new AdapterError(
            'UNKNOWN_CONTROL_PATH',
            404,
            `${path} is not a control path: ${CONTROL_PREFIX} is reserved for ${controlPathNames()}`,
          );
      }
    } catch (error) {
      this.answerError(res, error, requestId, req);
    }
  }

  private async runLifecycleHook(
    name: string,
    target: AdapterConfig['initializer'],
    method: 'GET' | 'POST',
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    if (!target) return { hook: name, configured: false };
    this.deps.logger.info(`${name} running`, { target });
    try {
      const result = await runHook(name, target, this.app, this.deps.appEnv, method, timeoutMs);
      this.deps.logger.info(`${name} finished`, { durationMs: result.durationMs, output: result.output });
      return { hook: name, configured: true, ...result };
    } catch (error) {
      this.deps.logger.error(`${name} failed`, { message: (error as Error).message });
      throw error;
    }
  }

  /**
   * The app could not be reached or dropped the connection: when that is because it is exiting, say so. A
   * refused connection from an app that has exited is APP_EXITED (nothing was served: the caller may send
   * the request elsewhere); a dropped one was in flight and failed: APP_OOM_KILLED, or APP_UNREACHABLE
   * naming the exit.
   */
  private async explainAppFailure(error: AdapterError, cause: NodeJS.ErrnoException): Promise<AdapterError> {
    const app = this.appProcess;
    if (!app) return error;
    // The connection usually fails a moment before the app's exit is reported.
    if (!app.exitReason()) await Promise.race([app.exited, delay(EXIT_GRACE_MS)]);
    const exit = app.exitReason();
    if (!exit) return error;
    if (cause.code === 'ECONNREFUSED') return this.appExitedError(exit);
    const oom = this.oomKilled();
    if (oom) {
      return new AdapterError(
        'APP_OOM_KILLED',
        502,
        `the app was OOM-killed: ${oom}; this instance is going away`,
        {
          connection: 'close',
        },
      );
    }
    return new AdapterError('APP_UNREACHABLE', 502, `${error.message}: ${exit}`, { connection: 'close' });
  }

  /** Nothing was served: the app is gone (OOM-killed or exited) and this instance is going away. */
  private appExitedError(exit: string): AdapterError {
    const oom = this.oomKilled();
    return new AdapterError(
      'APP_EXITED',
      502,
      `${oom ? `the app was OOM-killed: ${oom}` : exit}; this instance is going away`,
      { connection: 'close' },
    );
  }

  /** "memory limit exceeded (512m)" when the kernel has OOM-killed a process here since the adapter started. */
  private oomKilled(): string | undefined {
    const kills = oomKillCount(this.deps.cgroupRoot);
    if (kills === undefined || kills <= (this.oomKillsAtStart ?? 0)) return undefined;
    const limit = memoryLimitBytes(this.deps.cgroupRoot);
    return `memory limit exceeded${limit === undefined ? '' : ` (${formatMegabytes(limit)})`}`;
  }

  /** Another container answered at the address the caller had for `meant`: nothing is served. */
  private notMeant(meant: string): AdapterError {
    return new AdapterError(
      'INSTANCE_MISMATCH',
      421,
      `this is instance ${this.deps.config.context.instance || '(unnamed)'}, not ${meant}: the caller's address for it is stale`,
      { connection: 'close' },
    );
  }

  private answerError(res: ServerResponse, error: unknown, requestId: string, req: IncomingMessage): void {
    if (!(error instanceof AdapterError)) {
      this.deps.logger.error('adapter failure', { requestId, stack: (error as Error).stack });
      error = new AdapterError('ADAPTER_FAILURE', 500, `the adapter failed: ${(error as Error).message}`);
    }
    this.noteFailure((error as AdapterError).code, requestId, req);
    sendAdapterError(res, error as AdapterError, requestId);
  }

  private noteFailure(code: string, requestId: string, req: IncomingMessage): void {
    this.stats.failed(code);
    if (code !== 'CLIENT_CLOSED') {
      this.deps.logger.warn('request failed', { requestId, code, method: req.method, path: req.url });
    }
  }
}

/**
 * The runner calls control paths in origin form only: an absolute-form target under `/_/` reaches neither
 * them nor the app.
 */
function reservedInAbsoluteForm(): AdapterError {
  return new AdapterError(
    'RESERVED_PATH',
    403,
    `paths under ${CONTROL_PREFIX} are reserved and are not served to an absolute-form request (GET http://host${CONTROL_PREFIX}…)`,
  );
}

/** `//_/…`, `/%5F/…`, `/x/../_/…`: the app may read them as `/_/…`, which never reaches it. */
function reservedInDisguise(): AdapterError {
  return new AdapterError(
    'RESERVED_PATH',
    403,
    `paths under ${CONTROL_PREFIX} are reserved, however they are spelled (repeated slashes, escapes, dot segments)`,
  );
}

/** How long a failed call to the app waits for the app's exit to be reported before answering without it. */
const EXIT_GRACE_MS = 200;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function formatMegabytes(bytes: number): string {
  return bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3}g` : `${Math.round(bytes / 1024 ** 2)}m`;
}

/** "ready, health, …, pre-stop and pre-freeze". */
function controlPathNames(): string {
  const names = Object.values(CONTROL_PATHS).map((path) => path.slice(CONTROL_PREFIX.length));
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function waitParam(url: string): number {
  const value = Number(new URLSearchParams(url.split('?')[1] ?? '').get('wait'));
  return Number.isFinite(value) && value > 0 ? Math.min(value, 60_000) : 0;
}

function requireMethod(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new AdapterError('METHOD_NOT_ALLOWED', 405, `use ${allowed.join(' or ')} here, not ${method}`, {
      allow: allowed.join(', '),
    });
  }
}

function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}

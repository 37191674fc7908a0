import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { endToEndHeaders, requestIdFrom } from '../../../adapter/forward/forward-headers.js';
import type { AppEndpoint } from '../../../adapter/forward/app-endpoint.js';
import { proxyRequest } from '../../../adapter/forward/proxy-request.js';
import { HEADERS } from '../../../adapter/contract/contract.js';
import { PilotlightError, isPilotlightError } from '../../../common/pilotlight-error.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { EDGE_NOT_READY, FUNCTION_HEADER } from '../edge/edge-config.js';
import type { Routing } from '../edge/routing.js';
import { isBodiless } from '../../../adapter/forward/proxy-exchange.js';
import { sleep } from '../../../common/sleep.js';
import { ActivationTimeoutError, ClientGoneError, RedeployedError } from './function-pool.js';
import type { FunctionRegistry } from '../control/function-registry.js';

/** How often the activator asks the edge again while the runner believes in an instance the edge found down. */
const SERVER_UP_POLL_MS = 25;
import { sendError } from './send-error.js';

/**
 * The activator: the edge sends it a function's requests while no instance of it takes requests (all
 * reserved, frozen, or none yet). It holds each (in the pool's bounded queue) until an instance is woken or
 * started and marked ready at the edge, then sends it back in through the edge's `activated` frontend, where
 * the backend's per-instance maxconn and queue apply as to every other request.
 */
export class Activator {
  private readonly edge: AppEndpoint;

  constructor(
    activatedSocket: string,
    private readonly routing: Pick<Routing, 'hasServerUp'>,
    /** The function as it is now: a request held across a release is served by the new revision. */
    private readonly functions: Pick<FunctionRegistry, 'find'>,
  ) {
    this.edge = {
      host: 'localhost',
      port: 0,
      socketPath: activatedSocket,
      agent: new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, timeout: 30_000 }),
    };
  }

  /**
   * Holds the request until the function has a server up at the edge, then sends it back in. Should the
   * server be found down meanwhile (the edge answers `EDGE_NOT_READY` and reads no body), a request without a
   * body waits again; one with a body gets a 503 to retry.
   */
  async forward(held: FunctionRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let fn = held;
    const requestId = requestIdFrom(req.headers);
    const deadline = Date.now() + fn.pool.maxWaitMs;
    const headers = endToEndHeaders(req.headers);
    headers[FUNCTION_HEADER] = fn.spec.name;
    // Nobody is left to answer once the edge's connection closes: stop waiting.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    for (;;) {
      try {
        fn = await this.untilServerUp(fn, deadline, gone.signal);
      } catch (error) {
        if (error instanceof ClientGoneError) return;
        return answerUnavailable(fn, res, requestId, error);
      }
      const outcome = await proxyRequest(this.edge, req, res, {
        path: req.url ?? '/',
        headers,
        timeoutMs: fn.spec.timeoutMs + 5_000,
        requestId,
        upstreamName: `the edge (function ${fn.spec.name})`,
        notServed: (answer) => answer.headers[HEADERS.error] === EDGE_NOT_READY,
      });
      if (typeof outcome !== 'object') return;
      if (!isBodiless(req) || res.headersSent || Date.now() >= deadline) {
        return answerUnavailable(
          fn,
          res,
          requestId,
          new ActivationTimeoutError(fn.spec.name, fn.pool.maxWaitMs),
        );
      }
    }
  }

  /**
   * The pool's word (an instance is active, woken or started) and then the edge's: the runner may not have
   * heard yet that the edge found the instance down, and sending the request in then would only bring it
   * back here.
   */
  private async untilServerUp(
    held: FunctionRuntime,
    deadline: number,
    gone: AbortSignal,
  ): Promise<FunctionRuntime> {
    let fn = held;
    for (;;) {
      try {
        await fn.pool.activate(gone);
      } catch (error) {
        const next = error instanceof RedeployedError ? this.functions.find(fn.spec.name) : undefined;
        if (!next || next === fn) throw error;
        fn = next;
        continue;
      }
      if (await this.routing.hasServerUp(fn.spec.name)) return fn;
      if (gone.aborted) throw new ClientGoneError(fn.spec.name);
      if (Date.now() >= deadline) throw new ActivationTimeoutError(fn.spec.name, fn.pool.maxWaitMs);
      await fn.pool.awaitEdge(sleep(SERVER_UP_POLL_MS));
    }
  }

  /** An upgrade (a WebSocket) held the same way, then spliced to the edge as a raw tunnel. */
  async upgrade(fn: FunctionRuntime, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const gone = new AbortController();
    client.once('close', () => gone.abort());
    try {
      await this.untilServerUp(fn, Date.now() + fn.pool.maxWaitMs, gone.signal);
    } catch (error) {
      if (error instanceof ClientGoneError) return void client.destroy();
      const known = isPilotlightError(error) ? error : undefined;
      client.end(
        `HTTP/1.1 ${known?.status ?? 503} Service Unavailable\r\n` +
          `${HEADERS.requestId}: ${requestIdFrom(req.headers)}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    const upstream = connect(this.edge.socketPath!);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === FUNCTION_HEADER) continue;
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(`${FUNCTION_HEADER}: ${fn.spec.name}`, '', '');
    upstream.write(lines.join('\r\n'));
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client).pipe(upstream);
    const close = (): void => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', close);
    client.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
  }
}

export function answerUnavailable(
  fn: FunctionRuntime,
  res: ServerResponse,
  requestId: string,
  error: unknown,
): void {
  // A wake that failed on the engine is still an answer the client should get, not a reset connection.
  const known = isPilotlightError(error)
    ? error
    : new PilotlightError(
        'INSTANCE_UNAVAILABLE',
        `no instance of ${fn.spec.name} could be made ready: ${(error as Error).message}`,
        502,
      );
  if (res.headersSent) return void res.destroy();
  res.setHeader('retry-after', '1');
  res.setHeader(HEADERS.requestId, requestId);
  sendError(res, known);
}

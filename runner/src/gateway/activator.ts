import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { endToEndHeaders, requestIdFrom } from '../../../adapter/forward/forward-headers.js';
import type { AppEndpoint } from '../../../adapter/forward/app-endpoint.js';
import { proxyRequest } from '../../../adapter/forward/proxy-request.js';
import { HEADERS } from '../../../adapter/contract/contract.js';
import { PilotlightError, isPilotlightError } from '../../../common/pilotlight-error.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { FUNCTION_HEADER } from '../edge/edge-config.js';
import { sendError } from './gateway-server.js';

/**
 * The activator: the edge sends it a function's requests while no instance of it takes requests (all
 * reserved, frozen, or none yet). It holds each (in the pool's bounded queue) until an instance is woken or
 * started and marked ready at the edge, then sends it back in through the edge's `activated` frontend, where
 * the backend's per-instance maxconn and queue apply as to every other request.
 */
export class Activator {
  private readonly edge: AppEndpoint;

  constructor(activatedSocket: string) {
    this.edge = {
      host: 'localhost',
      port: 0,
      socketPath: activatedSocket,
      agent: new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, timeout: 30_000 }),
    };
  }

  async forward(fn: FunctionRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdFrom(req.headers);
    try {
      await fn.pool.activate();
    } catch (error) {
      return answerUnavailable(fn, res, requestId, error);
    }
    const headers = endToEndHeaders(req.headers);
    headers[FUNCTION_HEADER] = fn.spec.name;
    await proxyRequest(this.edge, req, res, {
      path: req.url ?? '/',
      headers,
      timeoutMs: fn.spec.timeoutMs + 5_000,
      requestId,
      upstreamName: `the edge (function ${fn.spec.name})`,
    });
  }

  /** An upgrade (a WebSocket) held the same way, then spliced to the edge as a raw tunnel. */
  async upgrade(fn: FunctionRuntime, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    try {
      await fn.pool.activate();
    } catch (error) {
      const known = isPilotlightError(error) ? error : undefined;
      client.end(`HTTP/1.1 ${known?.status ?? 503} Service Unavailable\r\nconnection: close\r\n\r\n`);
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

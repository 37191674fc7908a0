import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import { forwardedHeaders, requestIdFrom } from '../../../adapter/forward/forward-headers.js';
import type { AppEndpoint } from '../../../adapter/forward/app-endpoint.js';
import { isBodiless } from '../../../adapter/forward/proxy-exchange.js';
import { proxyRequest, type ProxyOutcome } from '../../../adapter/forward/proxy-request.js';
import type { Instance } from '../instances/instance.js';
import { PilotlightError, isPilotlightError } from '../../../common/pilotlight-error.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { sendError } from './gateway-server.js';
import { HEADERS, NOT_SERVED_CODES } from '../../../adapter/contract/contract.js';

/** Keep-alive connections to every instance's adapter; idle ones close before the adapter's 65 s. */
export const instanceAgent = new Agent({
  keepAlive: true,
  maxSockets: Infinity,
  maxFreeSockets: 1024,
  timeout: 30_000,
});

const endpoints = new WeakMap<Instance, AppEndpoint>();

/** An instance's adapter as a proxy target, parsed once rather than on every request. */
export function endpointOf(instance: Instance): AppEndpoint {
  let endpoint = endpoints.get(instance);
  if (!endpoint) {
    const url = new URL(instance.address);
    endpoint = { host: url.hostname, port: Number(url.port), agent: instanceAgent };
    endpoints.set(instance, endpoint);
  }
  return endpoint;
}

/** Attempts for a request whose instance turned out to be gone before it served anything. */
const MAX_ATTEMPTS = 3;

export class InstanceGoneError extends PilotlightError {
  constructor(fn: string, instance: string, answer: string) {
    super(
      'INSTANCE_GONE',
      `instance ${instance} of ${fn} went away before it served the request (${answer}); nothing was processed: retry`,
      503,
    );
  }
}

/** Told when an instance answered in a way that shows it is gone, going, or not the one meant. */
export type SuspectInstance = (
  fn: FunctionRuntime,
  instance: Instance,
  answer: string,
  message?: string,
) => void;

/**
 * Hands a gateway request to the least-loaded instance with room (waiting in the activator, or waking a
 * reserved instance, when it must) and streams it there and back. No idle cut: the limit is the function's
 * timeout. When the instance turns out to be gone before it served anything, a request without a body is
 * sent again to another instance (or waits for a replacement); one with a body gets a 503.
 */
export async function forwardToInstance(
  fn: FunctionRuntime,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  suspect: SuspectInstance = () => {},
): Promise<void> {
  const requestId = requestIdFrom(req.headers);
  const bodiless = isBodiless(req);
  for (let attempt = 1; ; attempt++) {
    let instance: Instance;
    try {
      instance = await fn.pool.acquire();
    } catch (error) {
      return answerUnavailable(fn, res, requestId, error);
    }
    let outcome: ProxyOutcome;
    try {
      outcome = await proxyRequest(endpointOf(instance), req, res, {
        path,
        headers: instanceHeaders(req, requestId, instance),
        timeoutMs: fn.spec.timeoutMs + 5_000,
        requestId,
        upstreamName: `instance ${instance.name}`,
        notServed: (answer) => NOT_SERVED_CODES.has(String(answer.headers[HEADERS.error] ?? '')),
      });
    } finally {
      fn.pool.release(instance);
    }
    if (typeof outcome !== 'object') return;
    suspect(fn, instance, outcome.notServed, outcome.message);
    if (!bodiless || attempt >= MAX_ATTEMPTS || res.headersSent || res.destroyed) {
      return answerUnavailable(
        fn,
        res,
        requestId,
        new InstanceGoneError(fn.spec.name, instance.name, outcome.notServed),
      );
    }
  }
}

/** What an instance's adapter gets: the caller's forwarded headers, and the name of the instance meant. */
export function instanceHeaders(
  req: IncomingMessage,
  requestId: string,
  instance: Instance,
): OutgoingHttpHeaders {
  const headers = forwardedHeaders(req.headers, requestId, {
    remoteAddress: req.socket.remoteAddress,
    host: req.headers.host,
    proto: 'http',
  });
  headers[HEADERS.instance] = instance.name;
  return headers;
}

function answerUnavailable(
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

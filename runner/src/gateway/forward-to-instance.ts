import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import { forwardedHeaders, requestIdFrom } from '../../../adapter/src/forward-headers.js';
import type { AppEndpoint } from '../../../adapter/src/app-endpoint.js';
import { proxyRequest } from '../../../adapter/src/proxy-request.js';
import type { Instance } from '../instances/instance.js';
import { PilotlightError, isPilotlightError } from '../errors.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { sendError } from './gateway-server.js';

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

/**
 * Hands a gateway request to the least-loaded instance with room (waiting in the activator, or waking a
 * reserved instance, when it must) and streams it there and back. No idle cut: the limit is the function's
 * timeout.
 */
export async function forwardToInstance(
  fn: FunctionRuntime,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = requestIdFrom(req.headers);
  let instance;
  try {
    instance = await fn.pool.acquire();
  } catch (error) {
    // A wake that failed on the engine is still an answer the client should get, not a reset connection.
    const known = isPilotlightError(error)
      ? error
      : new PilotlightError(
          'INSTANCE_UNAVAILABLE',
          `no instance of ${fn.spec.name} could be made ready: ${(error as Error).message}`,
          502,
        );
    res.setHeader('retry-after', '1');
    res.setHeader('x-request-id', requestId);
    return sendError(res, known);
  }
  try {
    await proxyRequest(endpointOf(instance), req, res, {
      path,
      headers: forwardedHeaders(req.headers, requestId, {
        remoteAddress: req.socket.remoteAddress,
        host: req.headers.host,
        proto: 'http',
      }),
      timeoutMs: fn.spec.timeoutMs + 5_000,
      requestId,
      upstreamName: `instance ${instance.name}`,
    });
  } finally {
    fn.pool.release(instance);
  }
}

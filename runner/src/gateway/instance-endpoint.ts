import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent } from 'node:http';
import { forwardedHeaders } from '../../../adapter/forward/forward-headers.js';
import type { AppEndpoint } from '../../../adapter/forward/app-endpoint.js';
import { HEADERS } from '../../../adapter/contract/contract.js';
import type { Instance } from '../instances/instance.js';

/** Keep-alive connections to every instance's adapter; idle ones close before the adapter's 65 s. */
export const instanceAgent = new Agent({
  keepAlive: true,
  maxSockets: Infinity,
  maxFreeSockets: 1024,
  timeout: 30_000,
});

const endpoints = new WeakMap<Instance, AppEndpoint>();

/** An instance's adapter as a proxy target (for the runner's own calls), parsed once. */
export function endpointOf(instance: Instance): AppEndpoint {
  let endpoint = endpoints.get(instance);
  if (!endpoint) {
    const url = new URL(instance.address);
    endpoint = { host: url.hostname, port: Number(url.port), agent: instanceAgent };
    endpoints.set(instance, endpoint);
  }
  return endpoint;
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

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { REQUEST_ID_HEADER } from './adapter-error.js';
import { HEADERS, OWN_HEADER_PREFIX } from '../contract/contract.js';

export const CONTEXT_HEADER = HEADERS.context;
/** Sent by the runner with every call: the instance it means. An adapter with another name refuses (421). */
export const INSTANCE_HEADER = HEADERS.instance;
const OWN_PREFIX = OWN_HEADER_PREFIX;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const VALID_REQUEST_ID = /^[\w.:@/+=-]{1,200}$/;

/** Keeps a caller's x-request-id when it is sane, otherwise makes one. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && VALID_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Drops hop-by-hop headers, including those the Connection header names. */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = String(headers['connection'] ?? '')
    .toLowerCase()
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    result[name] = value;
  }
  return result;
}

export interface InvocationContext {
  function: string;
  revision: string;
  instance: string;
  requestId: string;
  /** Epoch milliseconds by which the answer must be complete. */
  deadline: number;
}

export interface ClientInfo {
  remoteAddress: string | undefined;
  host: string | undefined;
  proto: 'http' | 'https';
}

/**
 * The headers the app receives: the caller's end-to-end headers minus anything claiming to be ours, plus the
 * request id, the invocation context, and Forwarded / X-Forwarded-* describing the caller.
 */
export function appRequestHeaders(
  incoming: IncomingHttpHeaders,
  context: InvocationContext,
  client: ClientInfo,
): OutgoingHttpHeaders {
  const headers = forwardedHeaders(incoming, context.requestId, client);
  headers[CONTEXT_HEADER] = JSON.stringify(context);
  return headers;
}

/** End-to-end headers, none of ours, the request id, and Forwarded / X-Forwarded-* appended for this hop. */
export function forwardedHeaders(
  incoming: IncomingHttpHeaders,
  requestId: string,
  client: ClientInfo,
): OutgoingHttpHeaders {
  const headers = endToEndHeaders(incoming);
  for (const name of Object.keys(headers)) {
    if (name.startsWith(OWN_PREFIX)) delete headers[name];
  }
  headers[REQUEST_ID_HEADER] = requestId;

  const forwardedFor = client.remoteAddress?.replace(/^::ffff:/, '');
  if (forwardedFor) {
    const prior = incoming['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${forwardedFor}` : forwardedFor;
  }
  headers['x-forwarded-proto'] = String(incoming['x-forwarded-proto'] ?? client.proto);
  if (client.host) headers['x-forwarded-host'] = String(incoming['x-forwarded-host'] ?? client.host);
  const element = [
    forwardedFor ? `for=${quoteForwarded(forwardedFor)}` : undefined,
    client.host ? `host=${quoteForwarded(client.host)}` : undefined,
    `proto=${client.proto}`,
  ]
    .filter(Boolean)
    .join(';');
  headers['forwarded'] = incoming['forwarded'] ? `${String(incoming['forwarded'])}, ${element}` : element;
  return headers;
}

function quoteForwarded(value: string): string {
  return /^[\w.-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Response headers from the app, minus hop-by-hop ones. */
export function appResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return endToEndHeaders(headers);
}

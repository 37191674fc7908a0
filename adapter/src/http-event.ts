import {
  validateHeaderName,
  validateHeaderValue,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { AdapterError } from '../forward/adapter-error.js';

/** A request described as data, as API gateways hand events to functions. */
export interface HttpShapedRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export interface HttpShapedAnswer {
  statusCode: number;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

type Json = Record<string, unknown>;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function malformed(field: string, what: string): AdapterError {
  return new AdapterError('MALFORMED_EVENT', 400, `the HTTP-shaped event's ${field} ${what}`);
}

/** Parses a JSON event body; a syntax error becomes a 400 that says where. */
export function parseJsonEvent(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new AdapterError(
      'MALFORMED_EVENT',
      400,
      `the event is not valid JSON (${(error as Error).message}); send valid JSON or a non-JSON content type`,
    );
  }
}

/** An event is HTTP-shaped when it names a method and a path (API Gateway v1 or v2 field names). */
export function isHttpShaped(event: unknown): event is Json {
  if (!event || typeof event !== 'object' || Array.isArray(event)) return false;
  const e = event as Json;
  const method = e['httpMethod'] ?? e['method'] ?? (e['requestContext'] as Json | undefined)?.['http'];
  return method !== undefined && (e['path'] !== undefined || e['rawPath'] !== undefined);
}

export function toHttpRequest(event: Json): HttpShapedRequest {
  const http = (event['requestContext'] as Json | undefined)?.['http'] as Json | undefined;
  const method = event['httpMethod'] ?? event['method'] ?? http?.['method'];
  if (typeof method !== 'string' || !TOKEN.test(method))
    throw malformed('method', 'must be a string such as "GET"');
  const path = event['rawPath'] ?? event['path'];
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw malformed('path', 'must be a string starting with /');

  const headers: OutgoingHttpHeaders = {};
  for (const field of ['headers', 'multiValueHeaders'] as const) {
    const value = event[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw malformed(field, 'must be an object');
    for (const [name, item] of Object.entries(value as Json)) {
      if (typeof item === 'string') headers[name.toLowerCase()] = item;
      else if (Array.isArray(item) && item.every((part) => typeof part === 'string'))
        headers[name.toLowerCase()] = item;
      else throw malformed(`${field}.${name}`, 'must be a string or an array of strings');
      checkSendable(`${field}.${name}`, name, item);
    }
  }

  const rawBody = event['body'];
  if (rawBody !== undefined && rawBody !== null && typeof rawBody !== 'string') {
    throw malformed('body', 'must be a string (base64 when isBase64Encoded is true)');
  }
  const isBase64 = event['isBase64Encoded'];
  if (isBase64 !== undefined && typeof isBase64 !== 'boolean')
    throw malformed('isBase64Encoded', 'must be true or false');
  if (isBase64 && rawBody && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(rawBody)) {
    throw malformed('body', 'is not valid base64 although isBase64Encoded is true');
  }
  const body = rawBody ? Buffer.from(rawBody, isBase64 ? 'base64' : 'utf8') : Buffer.alloc(0);

  const query = queryString(event);
  // A path that brings a query of its own keeps it, and the event's query fields join it.
  const target = query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path;
  return { method: method.toUpperCase(), path: sendableTarget(target), headers, body };
}

/**
 * The target with what may not appear in a request line percent-encoded (as UTF-8): events carry paths decoded
 * (`/a b`, `/é`), and a request line cannot.
 */
function sendableTarget(target: string): string {
  return target.replace(/[^\x21-\x7e]|["<>\\^`{|}]/gu, (char) =>
    [...Buffer.from(char, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

/** A header Node would refuse to send is the event's fault, not the adapter's. */
function checkSendable(field: string, name: string, value: string | string[]): void {
  try {
    validateHeaderName(name);
  } catch {
    throw malformed(field, "is not a valid header name (letters, digits and !#$%&'*+.^_`|~- only)");
  }
  for (const part of Array.isArray(value) ? value : [value]) {
    try {
      validateHeaderValue(name, part);
    } catch {
      throw malformed(field, 'holds a character a header value cannot carry (CR, LF, NUL, beyond U+00FF)');
    }
  }
}

function queryString(event: Json): string {
  const raw = event['rawQueryString'];
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'string') throw malformed('rawQueryString', 'must be a string');
    return raw;
  }
  const params = new URLSearchParams();
  for (const field of ['queryStringParameters', 'multiValueQueryStringParameters'] as const) {
    const value = event[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw malformed(field, 'must be an object');
    for (const [name, item] of Object.entries(value as Json)) {
      const items = Array.isArray(item) ? item : [item];
      if (!items.every((part) => typeof part === 'string'))
        throw malformed(`${field}.${name}`, 'must hold strings');
      for (const part of items as string[]) {
        if (!params.getAll(name).includes(part)) params.append(name, part);
      }
    }
  }
  return params.toString();
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/** The app's answer as an event result; bodies that are not text come back base64-encoded. */
export function toHttpAnswer(status: number, headers: IncomingHttpHeaders, body: Buffer): HttpShapedAnswer {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    multi[name] = values;
    single[name] = values.join(', ');
  }
  const textual = TEXTUAL.test(String(headers['content-type'] ?? '')) && isUtf8(body);
  return {
    statusCode: status,
    headers: single,
    multiValueHeaders: multi,
    body: textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !textual,
  };
}

function isUtf8(body: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

/**
 * Event payloads for the adapter's POST /_/invoke and the edge's Lambda Invoke path: HTTP-shaped events with
 * fields of the wrong type, other JSON, text that is not JSON, invalid UTF-8, empty and huge payloads.
 */
import type { Random } from './random.js';
import { INVALID_UTF8 } from './request-parts.js';

export interface EventPayload {
  body: Buffer;
  contentType: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Paths an HTTP-shaped event may name: every one is safe to call on the sample app. */
const EVENT_PATHS = ['/headers', '/echo', '/', '/nothing', '/peak', '/_/stats', '/headers?x=1'];

export function eventPayload(r: Random): EventPayload {
  const roll = r.next();
  const contentType = r.pick(CONTENT_TYPES);
  if (roll < 0.15) return json(shapedEvent(r), contentType);
  if (roll < 0.55) return json(withWrongFields(r, shapedEvent(r)), contentType);
  if (roll < 0.7) return json(randomJson(r, 4), contentType);
  if (roll < 0.85) return { body: notJson(r), contentType };
  if (roll < 0.95) return { body: withInvalidUtf8(r), contentType };
  return huge(r, contentType);
}

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/problem+json',
  'text/plain',
  'application/octet-stream',
  '',
  'JSON',
  'application/jsonl',
];

function json(value: Json, contentType: string): EventPayload {
  return { body: Buffer.from(JSON.stringify(value) ?? '', 'utf8'), contentType };
}

function shapedEvent(r: Random): { [key: string]: Json } {
  const method = r.pick(['GET', 'GET', 'POST', 'HEAD', 'DELETE']);
  const path = r.pick(EVENT_PATHS);
  const body = method === 'POST' ? r.chars('abc{}"', r.size(1024)) : null;
  if (r.chance(0.5)) {
    return {
      httpMethod: method,
      path,
      headers: { 'content-type': 'text/plain', 'x-fuzz': 'yes' },
      queryStringParameters: { q: 'v' },
      body,
      isBase64Encoded: false,
    };
  }
  return {
    version: '2.0',
    rawPath: path,
    rawQueryString: 'a=1',
    requestContext: { http: { method } },
    headers: { accept: '*/*' },
    body,
  };
}

const FIELDS = [
  'httpMethod',
  'method',
  'path',
  'rawPath',
  'headers',
  'multiValueHeaders',
  'queryStringParameters',
  'multiValueQueryStringParameters',
  'rawQueryString',
  'body',
  'isBase64Encoded',
  'requestContext',
];

function withWrongFields(r: Random, event: { [key: string]: Json }): { [key: string]: Json } {
  for (let i = r.int(1, 3); i > 0; i--) {
    const field = r.pick(FIELDS);
    event[field] = r.chance(0.5) ? wrongValue(r) : plausibleButBad(r, field);
  }
  return event;
}

function wrongValue(r: Random): Json {
  return r.pick<Json>([
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    '',
    ' ',
    'x',
    '\u0000',
    '\ud800',
    '\u0100',
    [],
    [1],
    ['a', 2],
    {},
    { a: 1 },
    { a: [1, 'b'] },
    { http: 5 },
    { http: { method: 7 } },
    'a'.repeat(r.size(200_000)),
  ]);
}

/** The right type with a value no request can carry. */
function plausibleButBad(r: Random, field: string): Json {
  if (/method/i.test(field))
    return r.pick(['get', 'G ET', '', 'CONNECT', 'TRACE', 'X'.repeat(r.size(5000)), 'é', '\u0000']);
  if (/path/i.test(field))
    return r.pick([
      '',
      'headers',
      '/a b',
      '/\u0000',
      '/é',
      '/\u0100',
      '/%',
      '//x',
      '/\r\nX: y',
      '/' + 'a'.repeat(r.size(100_000)),
    ]);
  if (field === 'headers' || field === 'multiValueHeaders')
    return badHeaders(r, field === 'multiValueHeaders');
  if (field === 'rawQueryString')
    return r.pick(['a b', '#x', '\u0000', '%zz', 'é', '\r\n', 'q='.repeat(r.size(20_000))]);
  if (/query/i.test(field))
    return { [r.pick(['', 'a b', 'é', '\u0000'])]: r.pick<Json>(['v', ['v', 'w'], [], 'é']) };
  if (field === 'body') return r.pick(['', '\u0000', 'é\ud800', 'b'.repeat(r.size(300_000))]);
  if (field === 'isBase64Encoded') return r.pick<Json>([true, 'true', 1]);
  return { http: { method: r.pick<Json>(['GET', '', 5, null]) } };
}

function badHeaders(r: Random, multi: boolean): Json {
  const value = (v: string): Json => (multi ? [v, v] : v);
  return r.pick<Json>([
    { 'bad name': value('v') },
    { '': value('v') },
    { 'x\r\ny': value('v') },
    { x: value('a\r\nb') },
    { x: value('\u0000') },
    { x: value('\u0100') },
    { x: value('é') },
    { 'content-length': value('abc') },
    { 'content-length': value('99999') },
    { 'transfer-encoding': value('chunked') },
    { host: value('') },
    { connection: value('upgrade'), upgrade: value('websocket') },
    { expect: value('100-continue') },
    { 'x-pilotlight-instance': value('someone-else') },
    { [`x-${'n'.repeat(r.size(20_000))}`]: value('v') },
    { x: value('v'.repeat(r.size(200_000))) },
  ]);
}

function randomJson(r: Random, depth: number): Json {
  const roll = r.int(0, depth > 0 ? 7 : 4);
  if (roll === 0) return null;
  if (roll === 1) return r.chance(0.5);
  if (roll === 2) return r.pick([0, -0.5, 1e21, 2 ** 53 + 1, -1e-7]);
  if (roll === 3) return r.chars('abc\u0000é\ud83d\ude00"\\', r.size(64));
  if (roll === 4) return '';
  if (roll === 5) return Array.from({ length: r.int(0, 6) }, () => randomJson(r, depth - 1));
  const out: { [key: string]: Json } = {};
  for (let i = r.int(0, 6); i > 0; i--) out[r.pick([...FIELDS, 'x', ''])] = randomJson(r, depth - 1);
  return out;
}

function notJson(r: Random): Buffer {
  const shaped = JSON.stringify(shapedEvent(r));
  return Buffer.from(
    r.pick([
      '',
      ' ',
      '{',
      '{"httpMethod":',
      shaped.slice(0, r.int(0, shaped.length - 1)),
      `${shaped}garbage`,
      `\ufeff${shaped}`,
      "{'httpMethod':'GET'}",
      '{"a":1,}',
      'NaN',
      'undefined',
      '['.repeat(r.int(1000, 200_000)),
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
      '\u0000\u0001\u0002',
    ]),
    'utf8',
  );
}

/** JSON text with invalid UTF-8 bytes inside its strings, or around them. */
function withInvalidUtf8(r: Random): Buffer {
  const bad = () => r.pick(INVALID_UTF8);
  const text = r.pick([
    `{"httpMethod":"GET","path":"/${bad()}"}`,
    `{"httpMethod":"POST","path":"/echo","body":"${bad()}${bad()}"}`,
    `{"httpMethod":"GET","path":"/headers","headers":{"x-${bad()}":"v"}}`,
    `{"httpMethod":"GET","path":"/headers","headers":{"x":"${bad()}"}}`,
    `{"${bad()}":1}`,
    `${bad()}{}`,
    bad(),
  ]);
  return Buffer.from(text, 'latin1');
}

function huge(r: Random, contentType: string): EventPayload {
  const size = r.int(256 * 1024, 2 * 1024 * 1024);
  return r.pick([
    json({ httpMethod: 'POST', path: '/echo', body: 'h'.repeat(size) }, contentType),
    json({ data: Array.from({ length: size / 16 }, (_, i) => i) }, contentType),
    { body: Buffer.alloc(size, 0x7b), contentType },
  ]);
}

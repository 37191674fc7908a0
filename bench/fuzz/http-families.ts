/** Generators of malformed (and some well-formed) HTTP/1.1 requests, one family each. */
import type { Random } from './random.js';
import {
  CONTROL_BYTES,
  INVALID_UTF8,
  request,
  serialize,
  withoutHeader,
  type RequestParts,
} from './request-parts.js';

/** How one target is addressed: the request target and Host for an app path. */
export interface Route {
  to(r: Random, path: string): { target: string; host: string };
}

export interface Generated {
  bytes: Buffer;
  /** The request is well framed: the server should answer it without the client closing first. */
  complete: boolean;
  /** HEAD: the answer carries no body. */
  head: boolean;
}

export type Family = (r: Random, route: Route) => Generated;

/** App paths safe to call any number of times (the sample's /crash, /oom, /slow… are never sent). */
const APP_PATHS = ['/', '/headers', '/echo', '/peak', '/nothing', '/a/b/c', '/headers?x=1&y=%20', '/echo/'];

function done(parts: RequestParts, complete = false): Generated {
  return { bytes: serialize(parts), complete, head: parts.method === 'HEAD' };
}

/** A valid GET, HEAD or POST on the given route. */
function baseRequest(r: Random, route: Route, method = r.pick(['GET', 'GET', 'HEAD', 'POST'])): RequestParts {
  const path = method === 'POST' ? '/echo' : r.pick(APP_PATHS);
  const { target, host } = route.to(r, path);
  const body = method === 'POST' ? r.chars('abcdefghij{}":, ', r.size(2048)) : '';
  const headers: Array<[string, string]> = [
    ['Host', host],
    ['User-Agent', 'pilotlight-fuzz'],
  ];
  if (method === 'POST') headers.push(['Content-Type', r.pick(['text/plain', 'application/json', 'x/y'])]);
  return request(method, target, headers, body);
}

export const valid: Family = (r, route) => done(baseRequest(r, route), true);

export const requestLine: Family = (r, route) => {
  const parts = baseRequest(r, route);
  const roll = r.int(0, 4);
  if (roll === 0) parts.method = badMethod(r);
  if (roll === 1) parts.target = badTarget(r, route);
  if (roll === 2) parts.version = badVersion(r);
  if (roll === 3) parts.space = r.pick(['', '  ', '\t', ' \t', '\x0b', '\x00', '\r']);
  if (roll === 4) parts.lineEnd = r.pick(['\n', '\r', '\n\r', '\r\r\n', '', '\r\n\r\n']);
  return done(parts);
};

function badMethod(r: Random): string {
  return r.pick([
    'get',
    'G ET',
    '',
    'GET\x00',
    'GET\xff',
    'PRI',
    'CONNECT',
    'TRACE',
    'OPTIONS',
    '\xc3\xa9',
    '{}',
    'GET/1',
    'M'.repeat(r.size(70_000)),
    r.chars('!#$%&*+-.^_`|~ABCXYZ', r.int(1, 40)),
  ]);
}

function badTarget(r: Random, route: Route): string {
  const routed = (path: string) => route.to(r, path).target;
  return r.pick([
    '',
    '*',
    'x',
    '//',
    'http://x/',
    'http://x/_/stats',
    'https://x:99999/',
    'localhost:80',
    routed('/_/stats'),
    routed('/_/invoke'),
    routed('/%5f/stats'),
    routed('//_/stats'),
    routed('/./_/stats'),
    routed('/a/../_/stats'),
    '/fn/',
    '/fn//',
    '/fn/%00/',
    routed('/%'),
    routed('/%zz'),
    routed('/%00'),
    routed('/a b'),
    routed('/a\x00b'),
    routed('/\x7f'),
    routed(`/${r.pick(INVALID_UTF8)}`),
    routed('/?' + r.chars('&=%+?#/:@', r.size(300))),
    routed('/#frag'),
    routed('/../../../etc/passwd'),
    routed('/' + 'a'.repeat(r.size(100_000))),
  ]);
}

function badVersion(r: Random): string {
  return r.pick([
    'HTTP/1.0',
    'HTTP/0.9',
    'HTTP/2.0',
    'HTTP/1.2',
    'HTTP/9.9',
    'http/1.1',
    'HTTP/1.1 ',
    'HTTP/ 1.1',
    'HTTP/1',
    'HTTP/1.1x',
    '',
    'HTTP/11.1',
    'HTTP/1.01',
    'HTTPS/1.1',
    'HTTP/1.1\x00',
  ]);
}

export const headerFields: Family = (r, route) => {
  const parts = baseRequest(r, route);
  const roll = r.int(0, 6);
  if (roll === 0) parts.headers.push([badName(r), 'v']);
  if (roll === 1) parts.headers.push(['X-Fuzz', badValue(r)]);
  if (roll === 2)
    parts.headers.splice(r.int(0, parts.headers.length), 0, [
      r.pick([' folded', '\tfolded', 'no colon', ':', '']),
      '',
    ]);
  if (roll === 3) parts.headers = withoutHeader(parts, 'host').concat(hostVariants(r, route));
  if (roll === 4) parts.colon = r.pick([':', ' : ', ' :', ':\t', '::', '=', '']);
  if (roll === 5) parts.headers.push(...manyHeaders(r));
  if (roll === 6) parts.headers.push([r.pick(ownHeaders), badValue(r)]);
  return done(parts);
};

const ownHeaders = [
  'X-Pilotlight-Instance',
  'X-Pilotlight-Context',
  'X-Pilotlight-Function',
  'X-Request-Id',
  'X-Forwarded-For',
  'X-Pilotlight-Invocation-Type',
  'Expect',
  'Connection',
  'Upgrade',
];

function badName(r: Random): string {
  return r.pick([
    '',
    ' X',
    'X ',
    'X\tY',
    'X Y',
    '(x)',
    '@',
    '[x]',
    'x"y',
    '\xc3\xa9',
    r.pick(INVALID_UTF8),
    r.pick(CONTROL_BYTES),
    'x'.repeat(r.size(40_000)),
    r.chars('\x00\x01\x7f\x80\xff ()<>@,;:\\"/[]?={}', r.int(1, 20)),
  ]);
}

function badValue(r: Random): string {
  return r.pick([
    '',
    ' ',
    `a${r.pick(CONTROL_BYTES)}b`,
    'a\r\n b',
    'a\r\n\tb',
    `x${r.pick(INVALID_UTF8)}y`,
    '\xc3\xa9t\xc3\xa9',
    'v'.repeat(r.size(100_000)),
    r.chars('\x00\x01\x7f\x80\xff\r\n\t "\\', r.int(1, 64)),
    '100-continue',
    'close',
    'upgrade',
    'websocket',
    'other-instance',
    'Event',
  ]);
}

function hostVariants(r: Random, route: Route): Array<[string, string]> {
  const { host } = route.to(r, '/');
  return r.pick<Array<[string, string]>>([
    [],
    [['Host', '']],
    [
      ['Host', host],
      ['Host', 'other.localhost'],
    ],
    [['Host', `${host}:99999`]],
    [['Host', 'a b']],
    [['Host', `user@${host}`]],
    [['Host', '[::1']],
    [['Host', `${r.pick(INVALID_UTF8)}.localhost`]],
    [['Host', `${r.chars('abcxyz-', r.int(1, 70))}.localhost`]],
    [['Host', '.localhost']],
    [['Host', 'LOCALHOST']],
    [['Host', host.toUpperCase()]],
  ]);
}

function manyHeaders(r: Random): Array<[string, string]> {
  return Array.from({ length: r.int(50, 3000) }, (_, i) => [`X-Many-${i}`, r.chars('abc', r.int(0, 20))]);
}

export const chunked: Family = (r, route) => {
  const parts = baseRequest(r, route, 'POST');
  parts.headers = withoutHeader(parts, 'content-length').concat([['Transfer-Encoding', 'chunked']]);
  const chunks: string[] = [];
  for (let i = r.int(0, 4); i > 0; i--) chunks.push(oneChunk(r));
  parts.body = chunks.join('') + lastChunk(r);
  return done(parts);
};

function oneChunk(r: Random): string {
  const data = r.chars('xyz', r.size(5000));
  const size = r.chance(0.6) ? data.length.toString(16) : badChunkSize(r, data.length);
  const dataEnd = r.chance(0.7) ? '\r\n' : r.pick(['\n', '', 'XX', '\r', '\r\r\n']);
  const sizeEnd = r.chance(0.8) ? '\r\n' : r.pick(['\n', '\r', '', ' \r\n']);
  return `${size}${sizeEnd}${data}${dataEnd}`;
}

function badChunkSize(r: Random, length: number): string {
  return r.pick([
    (length + r.int(1, 10)).toString(16),
    Math.max(0, length - r.int(1, 10)).toString(16),
    'g',
    '-1',
    ` ${length.toString(16)}`,
    `${length.toString(16)} `,
    `0x${length.toString(16)}`,
    'ffffffffffffffff',
    '1'.repeat(r.int(16, 40)),
    '',
    `${length.toString(16)};ext=1`,
    `${length.toString(16)};\x00`,
    `${length.toString(16)}\x00`,
    `${length.toString(16)};${'e'.repeat(r.size(20_000))}`,
    `+${length.toString(16)}`,
  ]);
}

function lastChunk(r: Random): string {
  return r.pick([
    '0\r\n\r\n',
    '0\r\n\r\n',
    '0\r\n',
    '',
    '0\r\nTrailer-X: y\r\n\r\n',
    '0\r\nContent-Length: 5\r\n\r\n',
    '0\r\nTransfer-Encoding: chunked\r\n\r\n',
    '0\r\nbad trailer\r\n\r\n',
    `0\r\nX: ${'t'.repeat(r.size(40_000))}\r\n\r\n`,
    '000\r\n\r\n',
    '0\n\n',
    '0;ext\r\n\r\n',
    'fffffff\r\nabc',
  ]);
}

/** Framing that two parsers could read two ways: CL with TE, two lengths, odd spellings of either. */
export const smuggling: Family = (r, route) => {
  const parts = baseRequest(r, route, 'POST');
  const inner = smuggledRequest(r, route);
  parts.body = r.pick([`0\r\n\r\n${inner}`, `${inner}`, `5\r\nabcde\r\n0\r\n\r\n${inner}`, 'abcde']);
  const length = String(r.pick([parts.body.length, 0, 5, 4, parts.body.length + 10]));
  parts.headers = withoutHeader(parts, 'content-length').concat(framing(r, length));
  if (r.chance(0.2)) parts.version = 'HTTP/1.0';
  return done(parts);
};

function smuggledRequest(r: Random, route: Route): string {
  const { target, host } = route.to(r, r.pick(['/_/stats', '/_/pre-stop', '/headers', '/']));
  return `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
}

function framing(r: Random, length: string): Array<[string, string]> {
  const te = r.pick([
    'chunked',
    'chunked, identity',
    'identity, chunked',
    'Chunked',
    'CHUNKED',
    ' chunked',
    'chunked ',
    'xchunked',
    'chunked\x0b',
    'gzip, chunked',
    'chunked, chunked',
    'chunked\r\n x',
    '\xc3\xa9chunked',
  ]);
  return r.pick<Array<[string, string]>>([
    [
      ['Content-Length', length],
      ['Transfer-Encoding', te],
    ],
    [
      ['Transfer-Encoding', te],
      ['Content-Length', length],
    ],
    [
      ['Content-Length', length],
      ['Content-Length', String(Number(length) + 1)],
    ],
    [
      ['Content-Length', length],
      ['Content-Length', length],
    ],
    [['Content-Length', `${length}, ${length}`]],
    [['Content-Length', r.pick([` ${length}`, `+${length}`, `-${length}`, `0x${length}`, '', '1e3', '٥'])]],
    [['Content-Length', '9'.repeat(r.int(10, 30))]],
    [
      ['Transfer-Encoding', 'chunked'],
      ['Transfer-Encoding', te],
    ],
    [['Transfer_Encoding', 'chunked']],
    [['Transfer-Encoding ', 'chunked']],
    [['Transfer-Encoding', te]],
  ]);
}

export const hugeOrEmpty: Family = (r, route) => {
  const parts = baseRequest(r, route);
  const roll = r.int(0, 6);
  if (roll === 0) parts.target = route.to(r, `/${'p'.repeat(r.int(8_000, 120_000))}`).target;
  if (roll === 1) parts.headers.push(['X-Huge', 'h'.repeat(r.int(15_000, 200_000))]);
  if (roll === 2) return done(hugeBody(r, route), true);
  if (roll === 3)
    parts.headers = withoutHeader(parts, 'content-length').concat([['Content-Length', '1000000000000']]);
  if (roll === 4)
    return {
      bytes: Buffer.from(r.pick(['', '\r\n', '\r\n\r\n', '\n', ' ', ' / HTTP/1.1\r\n\r\n']), 'latin1'),
      complete: false,
      head: false,
    };
  if (roll === 5) parts.headers = parts.headers.map(([name]) => [name, '']);
  if (roll === 6) parts.method = '';
  return done(parts);
};

function hugeBody(r: Random, route: Route): RequestParts {
  const parts = baseRequest(r, route, 'POST');
  parts.body = 'b'.repeat(r.int(64 * 1024, 1024 * 1024));
  parts.headers = withoutHeader(parts, 'content-length').concat([
    ['Content-Length', String(parts.body.length)],
  ]);
  return parts;
}

/** Invalid UTF-8 where a server might decode text: the path, the query, header names and values, the body. */
export const invalidUtf8: Family = (r, route) => {
  const parts = baseRequest(r, route, r.pick(['GET', 'POST']));
  const bad = () => Array.from({ length: r.int(1, 4) }, () => r.pick(INVALID_UTF8)).join('');
  const roll = r.int(0, 3);
  if (roll === 0) parts.target = route.to(r, `/${bad()}/x?q=${bad()}`).target;
  if (roll === 1) parts.headers.push([`X-${bad()}`, 'v']);
  if (roll === 2) parts.headers.push(['X-Text', bad()]);
  if (roll === 3 && parts.method === 'POST') {
    parts.body = `{"text":"${bad()}"}`;
    parts.headers = withoutHeader(parts, 'content-length').concat([
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(parts.body.length)],
    ]);
  }
  return done(parts, roll === 3);
};

export const randomBytes: Family = (r) => ({ bytes: r.bytes(r.size(65_536)), complete: false, head: false });

/** A valid request with a few bytes flipped, inserted, removed or duplicated, or cut short. */
export const mutated: Family = (r, route) => {
  const original = serialize(baseRequest(r, route));
  let bytes: number[] = [...original];
  for (let i = r.int(1, 8); i > 0; i--) bytes = mutate(r, bytes);
  const head = original.subarray(0, 5).toString('latin1') === 'HEAD ';
  return { bytes: Buffer.from(bytes), complete: false, head };
};

function mutate(r: Random, bytes: number[]): number[] {
  const at = r.int(0, bytes.length);
  const special = [0x00, 0x0d, 0x0a, 0x20, 0x3a, 0x09, 0x80, 0xff, 0x25, 0x2f];
  switch (r.int(0, 5)) {
    case 0:
      return bytes.map((byte, i) => (i === at ? byte ^ (1 << r.int(0, 7)) : byte));
    case 1:
      return [...bytes.slice(0, at), r.pick(special), ...bytes.slice(at)];
    case 2:
      return [...bytes.slice(0, at), ...bytes.slice(at + 1)];
    case 3:
      return [...bytes.slice(0, at), ...bytes.slice(at, at + r.int(1, 40)), ...bytes.slice(at)];
    case 4:
      return bytes.slice(0, at);
    default:
      return [...bytes.slice(0, at), r.int(0, 255), ...bytes.slice(at + 1)];
  }
}

/**
 * The fuzz cases: case INDEX of a run seeded SEED is always the same bytes to the same target, so any case can
 * be sent again on its own (`--seed S --case I`).
 */
import { eventPayload } from './event-families.js';
import * as http from './http-families.js';
import { Random } from './random.js';
import type { Family, Generated, Route } from './http-families.js';

export type Target = 'edge' | 'adapter';

export interface FuzzCase extends Generated {
  index: number;
  target: Target;
  family: string;
}

/** The sample app's routes that crash, exhaust or hold it: a fuzz case never names one. */
const HARMFUL_PATH = /\/(crash|oom|slow|stream|warm-up|ws|fork-bomb|log-flood|fill)\b/i;

/** Families and their weights: the edge also gets Lambda invokes and async events, for the runner behind it. */
const httpFamilies: Record<string, [Family, number]> = {
  ...weighted(http, { valid: 10, requestLine: 12, headerFields: 14, chunked: 10, smuggling: 10 }),
  ...weighted(http, { hugeOrEmpty: 6, invalidUtf8: 8, randomBytes: 6, mutated: 12 }),
};

const edgeFamilies = (fn: string): Record<string, [Family, number]> => ({
  ...httpFamilies,
  lambda: [(r) => lambdaInvoke(r, fn), 10],
  asyncEvent: [(r) => asyncEvent(r, fn), 0.5],
});

const adapterFamilies: Record<string, [Family, number]> = {
  ...weighted(http, { valid: 8, requestLine: 8, headerFields: 10, chunked: 8, smuggling: 8 }),
  ...weighted(http, { hugeOrEmpty: 4, invalidUtf8: 6, randomBytes: 4, mutated: 8 }),
  invoke: [adapterInvoke, 30],
  control: [controlPath, 6],
};

function weighted(
  families: Record<string, unknown>,
  weights: Record<string, number>,
): Record<string, [Family, number]> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, weight]) => [name, [families[name] as Family, weight]]),
  );
}

/** Half the cases go to the edge (routed to FN), half straight to the function's adapter. */
export function fuzzCase(seed: number, index: number, fn: string): FuzzCase {
  const r = Random.forCase(seed, index);
  const target: Target = r.chance(0.5) ? 'edge' : 'adapter';
  const families = target === 'edge' ? edgeFamilies(fn) : adapterFamilies;
  const route = target === 'edge' ? edgeRoute(fn) : adapterRoute;
  for (;;) {
    const family = pickWeighted(r, families);
    const generated = families[family]![0](r, route);
    if (!HARMFUL_PATH.test(generated.bytes.toString('latin1')))
      return { index, target, family, ...generated };
  }
}

function pickWeighted(r: Random, families: Record<string, [Family, number]>): string {
  const entries = Object.entries(families);
  let roll = r.next() * entries.reduce((sum, [, [, weight]]) => sum + weight, 0);
  for (const [name, [, weight]] of entries) {
    roll -= weight;
    if (roll < 0) return name;
  }
  return entries[0]![0];
}

function edgeRoute(fn: string): Route {
  return {
    to: (r, path) =>
      r.chance(0.5) ? { target: `/fn/${fn}${path}`, host: 'x' } : { target: path, host: `${fn}.localhost` },
  };
}

const adapterRoute: Route = { to: (_, path) => ({ target: path, host: 'adapter:9000' }) };

/** A POST whose body is a fuzzed event, framed well, or with a short, chunked or over-limit length. */
function eventRequest(r: Random, target: string, host: string, extra: Array<[string, string]>): Generated {
  const { body, contentType } = eventPayload(r);
  const headers: Array<[string, string]> = [['Host', host], ...extra];
  if (contentType) headers.push(['Content-Type', contentType]);
  const framing = r.next();
  let payload = body;
  if (framing < 0.1) {
    headers.push(['Transfer-Encoding', 'chunked']);
    payload = Buffer.concat([
      Buffer.from(`${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
  } else if (framing < 0.14) {
    headers.push(['Content-Length', String(body.length + r.int(1, 100))]);
  } else if (framing < 0.17) {
    headers.push(['Content-Length', String(64 * 1024 ** 2)]);
    payload = Buffer.alloc(0);
  } else {
    headers.push(['Content-Length', String(body.length)]);
  }
  const head = `POST ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return {
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), payload]),
    complete: framing >= 0.14,
    head: false,
  };
}

function adapterInvoke(r: Random): Generated {
  const extra: Array<[string, string]> = r.chance(0.03) ? [['X-Pilotlight-Instance', 'someone-else']] : [];
  return eventRequest(r, '/_/invoke', 'adapter:9000', extra);
}

function lambdaInvoke(r: Random, fn: string): Generated {
  const name = r.pick([fn, fn, fn, `arn:aws:lambda:us-east-1:1:function:${fn}`, 'nobody', '%ff', '']);
  const type = r.pick(['RequestResponse', 'RequestResponse', 'RequestResponse', 'DryRun', 'Bogus', 'Event']);
  return eventRequest(r, `/2015-03-31/functions/${name}/invocations`, 'x', [['X-Amz-Invocation-Type', type]]);
}

function asyncEvent(r: Random, fn: string): Generated {
  return eventRequest(r, `/fn/${fn}/events`, 'x', [['X-Pilotlight-Invocation-Type', 'Event']]);
}

const CONTROL = [
  'ready',
  'health',
  'stats',
  'invoke',
  'initialize',
  'pre-stop',
  'pre-freeze',
  '',
  'x',
  '%2e%2e/',
];

function controlPath(r: Random): Generated {
  const method = r.pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get']);
  const query = r.pick([
    '',
    '?wait=abc',
    '?wait=-1',
    '?wait=99999999999',
    '?%zz',
    `?${'q'.repeat(r.size(20_000))}`,
  ]);
  const target = `/_/${r.pick(CONTROL)}${query}`;
  const bytes = Buffer.from(
    `${method} ${target} HTTP/1.1\r\nHost: adapter:9000\r\nContent-Length: 0\r\n\r\n`,
    'latin1',
  );
  return { bytes, complete: true, head: method === 'HEAD' };
}

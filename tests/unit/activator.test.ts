import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { Activator } from '../../runner/src/gateway/activator.js';
import { RedeployedError } from '../../runner/src/gateway/function-pool.js';
import { tempDir } from '../helpers/temp-dir.js';

const servers: Server[] = [];
/** No function replaced meanwhile. */
const NO_FUNCTIONS = { find: () => undefined };
afterEach(() => servers.splice(0).forEach((server) => server.close()));

function fn(activate: () => Promise<void>): FunctionRuntime {
  return {
    spec: { name: 'shop', timeoutMs: 1000 },
    pool: { activate, maxWaitMs: 500, awaitEdge: (wait: Promise<void>) => wait },
  } as unknown as FunctionRuntime;
}

/** The edge's `activated` frontend, played by a server on a Unix socket: it answers as `answer` says. */
async function fakeEdge(answer: (req: IncomingMessage, call: number) => { status: number; error?: string }) {
  const socket = join(tempDir('activator'), 'activated.sock');
  const seen: Array<{ function: string; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ function: String(req.headers['x-pilotlight-function']), body });
      const { status, error } = answer(req, seen.length);
      res.writeHead(status, error ? { 'x-pilotlight-error': error } : {}).end(`answer ${seen.length}`);
    });
  });
  server.listen(socket);
  await once(server, 'listening');
  servers.push(server);
  return { socket, seen };
}

/** Sends one request through the activator, as the edge's backup server would. */
async function call(
  activator: Activator,
  runtime: FunctionRuntime,
  init: RequestInit = {},
): Promise<Response> {
  const server = createServer((req, res) => void activator.forward(runtime, req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/cart`, {
    ...init,
    headers: { 'x-request-id': 'r-1' },
  });
  await response.clone().arrayBuffer();
  return response;
}

describe('the activator', () => {
  test('a wake that failed on the engine answers 502 naming the function, with the request id', async () => {
    const edge = await fakeEdge(() => ({ status: 200 }));
    const activator = new Activator(edge.socket, { hasServerUp: async () => true }, NO_FUNCTIONS);
    const response = await call(
      activator,
      fn(() => Promise.reject(new Error('cannot unpause: container is not paused'))),
    );
    expect(response.status).toBe(502);
    expect(response.headers.get('x-pilotlight-error')).toBe('INSTANCE_UNAVAILABLE');
    expect(response.headers.get('x-request-id')).toBe('r-1');
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      'no instance of shop could be made ready: cannot unpause: container is not paused',
    );
    expect(edge.seen).toEqual([]);
  });

  test('it sends a request in only once the edge has a server up, naming the function', async () => {
    const edge = await fakeEdge(() => ({ status: 200 }));
    let asked = 0;
    const activator = new Activator(edge.socket, { hasServerUp: async () => ++asked >= 3 }, NO_FUNCTIONS);
    const response = await call(
      activator,
      fn(async () => {}),
    );
    expect(response.status).toBe(200);
    expect(asked).toBe(3);
    expect(edge.seen).toEqual([{ function: 'shop', body: '' }]);
  });

  test('EDGE_NOT_READY: a request without a body waits and goes again; one with a body gets a 503 to retry', async () => {
    const edge = await fakeEdge((_req, n) =>
      n === 1 ? { status: 503, error: 'EDGE_NOT_READY' } : { status: 200 },
    );
    const activator = new Activator(edge.socket, { hasServerUp: async () => true }, NO_FUNCTIONS);
    const bodiless = await call(
      activator,
      fn(async () => {}),
    );
    expect(bodiless.status).toBe(200);
    expect(await bodiless.text()).toBe('answer 2');

    const again = await fakeEdge(() => ({ status: 503, error: 'EDGE_NOT_READY' }));
    const withBody = await call(
      new Activator(again.socket, { hasServerUp: async () => true }, NO_FUNCTIONS),
      fn(async () => {}),
      {
        method: 'POST',
        body: 'order',
      },
    );
    expect(withBody.status).toBe(503);
    expect(withBody.headers.get('x-pilotlight-error')).toBe('ACTIVATION_TIMEOUT');
    expect(again.seen).toHaveLength(1);
  });

  test('no server up within the wait: 503 ACTIVATION_TIMEOUT, nothing sent in', async () => {
    const edge = await fakeEdge(() => ({ status: 200 }));
    const activator = new Activator(edge.socket, { hasServerUp: async () => false }, NO_FUNCTIONS);
    const response = await call(
      activator,
      fn(async () => {}),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get('x-pilotlight-error')).toBe('ACTIVATION_TIMEOUT');
    expect(edge.seen).toEqual([]);
  });
  test('a request held across a release is served once the new revision is up, not refused', async () => {
    const edge = await fakeEdge(() => ({ status: 200 }));
    const released = fn(async () => undefined);
    const old = fn(async () => {
      throw new RedeployedError('shop');
    });
    const activator = new Activator(edge.socket, { hasServerUp: async () => true }, { find: () => released });
    const response = await call(activator, old);
    expect(response.status).toBe(200);
    expect(edge.seen).toHaveLength(1);
    // Without a newer one, the refusal stands.
    const alone = new Activator(edge.socket, { hasServerUp: async () => true }, { find: () => old });
    expect((await call(alone, old)).status).toBe(503);
  });
});

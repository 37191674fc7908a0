import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { forwardToInstance, type SuspectInstance } from '../../runner/src/gateway/forward-to-instance.js';
import { FunctionPool } from '../../runner/src/gateway/function-pool.js';
import type { Instance } from '../../runner/src/instances/instance.js';

/** A function whose pool fails the way the engine can fail during a wake. */
function failingFunction(error: Error): FunctionRuntime {
  return {
    spec: { name: 'shop', timeoutMs: 1000 },
    pool: { acquire: () => Promise.reject(error), release: () => {} },
  } as unknown as FunctionRuntime;
}

async function call(
  fn: FunctionRuntime,
  suspect?: SuspectInstance,
  init: RequestInit = {},
): Promise<Response> {
  const server = createServer((req, res) => void forwardToInstance(fn, '/', req, res, suspect));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      ...init,
      headers: { 'x-request-id': 'r-1' },
    });
    await response.clone().arrayBuffer();
    return response;
  } finally {
    server.close();
  }
}

/** An adapter stand-in: answers every call with what `answer` says, and records the instance each call meant. */
async function fakeAdapter(answer: (meant: string) => { status: number; error?: string; body: string }) {
  const meant: string[] = [];
  const server = createServer((req, res) => {
    const who = String(req.headers['x-pilotlight-instance']);
    meant.push(who);
    const { status, error, body } = answer(who);
    res.writeHead(status, error ? { 'x-pilotlight-error': error } : {}).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, meant };
}

const servers: Array<{ close(): void }> = [];
afterEach(() => servers.splice(0).forEach((server) => server.close()));

function instanceAt(name: string, address: string): Instance {
  const at = {
    state: 'active' as const,
    startedAt: 0,
    stateSince: 0,
    lastActiveAt: 0,
    inflight: 0,
    edgeSessions: 0,
    edgeTotal: 0,
  };
  return { id: name, name, fn: 'shop', revision: 1, address, spec: { cpus: 1, memory: 1 }, ...at };
}

function poolFunction(instances: Instance[]): FunctionRuntime {
  const pool = new FunctionPool({
    fn: 'shop',
    concurrency: 1,
    maxWaiting: 10,
    maxWaitMs: 1000,
    now: () => 0,
    onNeedCapacity: () => {},
    wake: async () => {},
  });
  instances.forEach((instance) => pool.add(instance));
  return { spec: { name: 'shop', timeoutMs: 1000 }, pool } as unknown as FunctionRuntime;
}

describe('forwardToInstance', () => {
  test('a wake that failed on the engine answers 502 naming the function, with the request id', async () => {
    const response = await call(failingFunction(new Error('cannot unpause: container is not paused')));
    expect(response.status).toBe(502);
    expect(response.headers.get('x-pilotlight-error')).toBe('INSTANCE_UNAVAILABLE');
    expect(response.headers.get('x-request-id')).toBe('r-1');
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      'no instance of shop could be made ready: cannot unpause: container is not paused',
    );
  });

  test('every call names its instance; an address now answered by another container is left for a live one', async () => {
    // "stale" is what the pool believes is at the first address; another function's container answers there.
    const reused = await fakeAdapter(() => ({ status: 421, error: 'INSTANCE_MISMATCH', body: 'not me' }));
    const live = await fakeAdapter(() => ({ status: 200, body: 'hello from the right function' }));
    const stale = instanceAt('shop-stale', reused.address);
    const fn = poolFunction([stale, instanceAt('shop-live', live.address)]);
    const suspects: string[] = [];
    const suspect: SuspectInstance = (owner, instance, answer) => {
      suspects.push(`${instance.name} ${answer}`);
      owner.pool.remove(instance);
    };
    const response = await call(fn, suspect);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello from the right function');
    expect(reused.meant).toEqual(['shop-stale']);
    expect(live.meant).toEqual(['shop-live']);
    expect(suspects).toEqual(['shop-stale INSTANCE_MISMATCH']);
    expect(stale.inflight).toBe(0);
  });

  test('a request with a body that reached no app is a 503 naming the instance, never the other answer', async () => {
    const reused = await fakeAdapter(() => ({ status: 421, error: 'INSTANCE_MISMATCH', body: 'not me' }));
    const fn = poolFunction([instanceAt('shop-stale', reused.address)]);
    const suspects: string[] = [];
    const response = await call(
      fn,
      (_owner, instance, answer) => suspects.push(`${instance.name} ${answer}`),
      {
        method: 'POST',
        body: 'order=1',
      },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get('x-pilotlight-error')).toBe('INSTANCE_GONE');
    expect(response.headers.get('x-request-id')).toBe('r-1');
    expect(await response.text()).toContain('shop-stale');
    expect(suspects).toEqual(['shop-stale INSTANCE_MISMATCH']);
  });

  test('an instance that refuses connections is reported and the request goes to the next one', async () => {
    const closed = await fakeAdapter(() => ({ status: 200, body: '' }));
    servers.pop()!.close(); // nothing listens there any more
    const live = await fakeAdapter(() => ({ status: 200, body: 'served' }));
    const fn = poolFunction([instanceAt('shop-gone', closed.address), instanceAt('shop-live', live.address)]);
    const suspects: string[] = [];
    const response = await call(fn, (owner, instance, answer) => {
      suspects.push(`${instance.name} ${answer}`);
      owner.pool.remove(instance);
    });
    expect(await response.text()).toBe('served');
    expect(suspects).toEqual(['shop-gone ECONNREFUSED']);
  });
});

import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import type { FunctionRuntime } from '../../runner/src/control/function-runtime.js';
import { forwardToInstance } from '../../runner/src/gateway/forward-to-instance.js';

/** A function whose pool fails the way the engine can fail during a wake. */
function failingFunction(error: Error): FunctionRuntime {
  return {
    spec: { name: 'shop', timeoutMs: 1000 },
    pool: { acquire: () => Promise.reject(error), release: () => {} },
  } as unknown as FunctionRuntime;
}

async function call(fn: FunctionRuntime): Promise<Response> {
  const server = createServer((req, res) => void forwardToInstance(fn, '/', req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      headers: { 'x-request-id': 'r-1' },
    });
  } finally {
    server.close();
  }
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
});

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callApp } from '../../adapter/src/call-app.js';
import { createAppEndpoint, type AppEndpoint } from '../../adapter/forward/app-endpoint.js';

/** An app that answers a CONNECT like any request, and one path whose answer is cut short. */
function startApp(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setImmediate(() => res.socket?.destroy());
      return;
    }
    res.end('ok');
  });
  server.on('connect', (_req, socket) =>
    socket.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n'),
  );
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('callApp: one buffered call to the app', () => {
  let server: Server;
  let app: AppEndpoint;

  beforeAll(async () => {
    server = await startApp();
    app = createAppEndpoint('127.0.0.1', (server.address() as AddressInfo).port);
  });

  afterAll(() => {
    app.agent.destroy();
    server.close();
  });

  const call = (method: string, path: string) =>
    callApp(app, { method, path, headers: {}, timeoutMs: 30_000, what: `${method} ${path}` });

  test('an ordinary answer is read whole', async () => {
    const answer = await call('GET', '/');
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('ok');
  });

  test.each([
    ['CONNECT', '/x'],
    ['GET', '/cut'],
  ])(
    '%s %s, whose connection ends without a whole answer, fails at once with 502, not at the timeout',
    async (method, path) => {
      const started = Date.now();
      await expect(call(method, path)).rejects.toMatchObject({ code: 'APP_UNREACHABLE', status: 502 });
      expect(Date.now() - started).toBeLessThan(5_000);
    },
  );
});

import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { Adapter } from '../../adapter/src/adapter.js';
import { parseAdapterConfig } from '../../adapter/src/config.js';
import type { Logger } from '../../adapter/src/logger.js';

// The adapter in this process against a small app in this process, on 127.0.0.1: no container, no child.
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const running: Array<{ close(): void }> = [];
afterEach(() => running.splice(0).forEach((item) => item.close()));

async function startApp(delayListenMs = 0): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/init-fails') return void res.writeHead(500).end('database unreachable');
    if (req.url?.startsWith('/slow')) return void setTimeout(() => res.end('slow done'), 300);
    res.end('ok');
  });
  await new Promise((resolve) => setTimeout(resolve, delayListenMs));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  running.push({ close: () => server.close() });
  return { port: (server.address() as AddressInfo).port, hits };
}

async function startAdapter(env: Record<string, string>): Promise<{ url: string; adapter: Adapter }> {
  const config = parseAdapterConfig({ PILOTLIGHT_PORT: '0', PILOTLIGHT_HOST: '127.0.0.1', ...env });
  const adapter = new Adapter({ config, logger: quiet, appEnv: {} });
  const port = await adapter.start();
  running.push(adapter);
  return { url: `http://127.0.0.1:${port}`, adapter };
}

describe('adapter in process', () => {
  test('a failed initializer answers 500 with the app output, and keeps answering so without running again', async () => {
    const app = await startApp();
    const { url } = await startAdapter({
      PILOTLIGHT_APP_PORT: String(app.port),
      PILOTLIGHT_INITIALIZER: 'path:/init-fails',
    });
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${url}/_/initialize`, { method: 'POST' });
      expect(response.status).toBe(500);
      expect(response.headers.get('x-pilotlight-error')).toBe('INITIALIZER_FAILED');
      const body = (await response.json()) as { error: { message: string; output: string } };
      expect(body.error.output).toBe('database unreachable');
      expect(body.error.message).toContain('answered 500');
    }
    expect(app.hits.filter((hit) => hit === 'POST /init-fails')).toHaveLength(1);
  });

  test('a failed initializer command reports its exit code and output', async () => {
    const app = await startApp();
    const { url } = await startAdapter({
      PILOTLIGHT_APP_PORT: String(app.port),
      PILOTLIGHT_INITIALIZER: 'command:["sh","-c","echo migrating; echo boom >&2; exit 4"]',
    });
    const response = await fetch(`${url}/_/initialize`, { method: 'POST' });
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { message: string; output: string } };
    expect(body.error.message).toContain('exited with code 4');
    expect(body.error.output).toContain('migrating');
    expect(body.error.output).toContain('boom');
  });

  test('requests that arrive before the app listens wait for readiness instead of failing', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const { url } = await startAdapter({ PILOTLIGHT_APP_PORT: String(port) });
    const early = fetch(`${url}/hello`);
    expect((await fetch(`${url}/_/ready`)).status).toBe(503);
    const late = createServer((req, res) => res.end('late but fine'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    late.listen(port, '127.0.0.1');
    running.push({ close: () => late.close() });
    const response = await early;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('late but fine');
    expect((await fetch(`${url}/_/ready`)).status).toBe(200);
  });

  test('an app that never becomes ready is reported with the last probe', async () => {
    const { url, adapter } = await startAdapter({
      PILOTLIGHT_APP_PORT: '1',
      PILOTLIGHT_STARTUP_TIMEOUT_MS: '200',
    });
    await adapter.whenReady();
    const ready = await fetch(`${url}/_/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(
      /not ready within PILOTLIGHT_STARTUP_TIMEOUT_MS=200 \(last probe: GET \/ on 127.0.0.1:1: ECONNREFUSED\)/,
    );
    const request = await fetch(`${url}/anything`);
    expect(request.status).toBe(503);
    expect(request.headers.get('x-pilotlight-error')).toBe('APP_NOT_READY');
  });

  test('an event over the size limit is refused with 413 naming the limit', async () => {
    const app = await startApp();
    const { url } = await startAdapter({
      PILOTLIGHT_APP_PORT: String(app.port),
      PILOTLIGHT_MAX_EVENT_BYTES: '1024',
    });
    const response = await fetch(`${url}/_/invoke`, { method: 'POST', body: Buffer.alloc(4096) });
    expect(response.status).toBe(413);
    expect(await response.text()).toContain('1024 bytes (PILOTLIGHT_MAX_EVENT_BYTES)');
    expect(app.hits).toEqual(['GET /']);
  });

  test('while draining, in-flight requests finish and new ones are refused', async () => {
    const app = await startApp();
    const { url, adapter } = await startAdapter({ PILOTLIGHT_APP_PORT: String(app.port) });
    const inflight = fetch(`${url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const shutdown = adapter.shutdown();
    await expect(fetch(`${url}/after`)).rejects.toThrow();
    expect(await (await inflight).text()).toBe('slow done');
    expect(await shutdown).toBe(0);
  });

  test('a control path with the wrong method is 405 naming the right one', async () => {
    const app = await startApp();
    const { url } = await startAdapter({ PILOTLIGHT_APP_PORT: String(app.port) });
    const response = await fetch(`${url}/_/invoke`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

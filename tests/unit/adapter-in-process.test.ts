import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { AppProcess } from '../../adapter/src/app-process.js';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { rawRequest } from '../helpers/own-connection.js';
import { Adapter } from '../../adapter/src/adapter.js';
import { parseAdapterConfig } from '../../adapter/src/config.js';
import type { Logger } from '../../adapter/src/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

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

async function startAdapter(
  env: Record<string, string>,
  extra: { startApp?: () => AppProcess; cgroupRoot?: string } = {},
): Promise<{ url: string; adapter: Adapter }> {
  const config = parseAdapterConfig({ PILOTLIGHT_PORT: '0', PILOTLIGHT_HOST: '127.0.0.1', ...env });
  const adapter = new Adapter({ config, logger: quiet, appEnv: {}, ...extra });
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
    const port = await freedPort();
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
    while (adapter.stats.inflight === 0) await new Promise((resolve) => setTimeout(resolve, 2));
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

  test('a call meant for another instance is refused with 421 and never reaches the app', async () => {
    const app = await startApp();
    const { url } = await startAdapter({
      PILOTLIGHT_APP_PORT: String(app.port),
      PILOTLIGHT_INSTANCE: 'shop-a',
    });
    await fetch(`${url}/_/ready?wait=2000`);
    const wrong = await fetch(`${url}/orders`, { headers: { 'x-pilotlight-instance': 'shop-b' } });
    expect(wrong.status).toBe(421);
    expect(wrong.headers.get('x-pilotlight-error')).toBe('INSTANCE_MISMATCH');
    expect(await wrong.text()).toContain('this is instance shop-a, not shop-b');
    const control = await fetch(`${url}/_/stats`, { headers: { 'x-pilotlight-instance': 'shop-b' } });
    expect(control.status).toBe(421);
    const right = await fetch(`${url}/orders`, { headers: { 'x-pilotlight-instance': 'shop-a' } });
    expect(right.status).toBe(200);
    expect(app.hits.filter((hit) => hit !== 'GET /')).toEqual(['GET /orders']);
  });

  test('an absolute-form request reaches the app in origin form, and never /_/ on the adapter or the app', async () => {
    const app = await startApp();
    const { url } = await startAdapter({ PILOTLIGHT_APP_PORT: String(app.port) });
    await fetch(`${url}/_/ready?wait=2000`);
    const reserved = await rawRequest(
      url,
      'GET http://x/_/stats HTTP/1.1\r\nHost: x\r\nx-request-id: abs-1\r\n\r\n',
    );
    expect(reserved).toMatch(/^HTTP\/1.1 403 /);
    expect(reserved).toContain('x-pilotlight-error: RESERVED_PATH');
    expect(reserved).toContain('"requestId":"abs-1"');
    expect(reserved).not.toContain('inflight');
    const upper = await rawRequest(
      url,
      'POST HTTP://x:9000/_/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
    );
    expect(upper).toMatch(/^HTTP\/1.1 403 /);
    const passed = await rawRequest(url, 'GET http://x/orders?id=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(passed).toMatch(/^HTTP\/1.1 200 /);
    const bare = await rawRequest(url, 'GET http://x?page=2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(bare).toMatch(/^HTTP\/1.1 200 /);
    expect(app.hits.filter((hit) => hit !== 'GET /')).toEqual(['GET /orders?id=1', 'GET /?page=2']);
  });

  test('an app OOM-killed mid-request: that request gets 502 naming the memory limit, later ones APP_EXITED', async () => {
    const cgroup = tempDir('cgroup');
    writeFileSync(join(cgroup, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n');
    writeFileSync(join(cgroup, 'memory.max'), `${512 * 1024 * 1024}\n`);
    const sockets: Socket[] = [];
    let requests = 0;
    // Takes every request and never answers, like an app allocating until it is killed.
    const server = createServer(() => (requests += 1));
    server.on('connection', (socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    running.push({ close: () => server.close() });
    const app = killableApp();
    const { url } = await startAdapter(
      { PILOTLIGHT_APP_PORT: String((server.address() as AddressInfo).port), PILOTLIGHT_READINESS: 'tcp' },
      { startApp: () => app.process, cgroupRoot: cgroup },
    );
    await fetch(`${url}/_/ready?wait=2000`);
    const inflight = fetch(`${url}/allocate`);
    while (requests < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    // The kernel's OOM killer: the count goes up, the app's connections drop, its exit is reported after.
    writeFileSync(join(cgroup, 'memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n');
    server.close();
    sockets.forEach((socket) => socket.destroy());
    setTimeout(() => app.kill('SIGKILL'), 20);
    const answer = await inflight;
    expect(answer.status).toBe(502);
    expect(answer.headers.get('x-pilotlight-error')).toBe('APP_OOM_KILLED');
    expect(await answer.text()).toContain('memory limit exceeded (512m)');
    const later = await fetch(`${url}/next`);
    expect(later.status).toBe(502);
    expect(later.headers.get('x-pilotlight-error')).toBe('APP_EXITED');
    expect(await later.text()).toContain('OOM-killed: memory limit exceeded (512m)');
  });

  test('a connection refused by an app that has just exited is APP_EXITED: nothing was served', async () => {
    const app = killableApp();
    const { url, adapter } = await startAdapter(
      { PILOTLIGHT_APP_PORT: '1', PILOTLIGHT_READINESS: 'tcp', PILOTLIGHT_STARTUP_TIMEOUT_MS: '1' },
      { startApp: () => app.process },
    );
    await adapter.whenReady();
    adapter.state = 'ready'; // as if it had been serving until its app went
    setTimeout(() => app.kill(undefined, 3), 20);
    const answer = await fetch(`${url}/orders`);
    expect(answer.status).toBe(502);
    expect(answer.headers.get('x-pilotlight-error')).toBe('APP_EXITED');
    expect(await answer.text()).toContain('the app exited with code 3');
  });
});

/** A port the kernel gave out (port 0) and that is free again: the app listens on it later. */
async function freedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** An app process whose death the test decides. */
function killableApp(): { process: AppProcess; kill: (signal?: NodeJS.Signals, code?: number) => void } {
  let reason: string | undefined;
  let resolve!: (code: number) => void;
  const exited = new Promise<number>((done) => (resolve = done));
  return {
    process: { pid: 1, exitReason: () => reason, exited, signal: () => {} },
    kill: (signal, code = 137) => {
      reason = signal ? `the app was killed by ${signal}` : `the app exited with code ${code}`;
      resolve(code);
    },
  };
}

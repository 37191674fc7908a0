import { once } from 'node:events';
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { HEADERS } from '../../adapter/contract/contract.js';
import { AdapterError } from '../../adapter/forward/adapter-error.js';
import { appRequestHeaders } from '../../adapter/forward/forward-headers.js';
import { proxyRequest, type ProxyOptions, type ProxyOutcome } from '../../adapter/forward/proxy-request.js';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A proxy in front of `upstreamPort` with the given options; every outcome is collected. */
async function proxyTo(upstreamPort: number, options: Partial<ProxyOptions> = {}) {
  const outcomes: ProxyOutcome[] = [];
  const agent = new Agent({ keepAlive: true });
  let settled: () => void = () => {};
  const port = await listen((req, res) => {
    void proxyRequest({ host: '127.0.0.1', port: upstreamPort, agent }, req, res, {
      path: req.url ?? '/',
      headers: appRequestHeaders(
        req.headers,
        {
          function: 'shop',
          revision: '1',
          instance: 'shop-a',
          requestId: 'req-1',
          deadline: Date.now() + 2000,
        },
        { remoteAddress: req.socket.remoteAddress, host: req.headers.host, proto: 'http' },
      ),
      timeoutMs: 2000,
      requestId: 'req-1',
      ...options,
    }).then((outcome) => {
      outcomes.push(outcome);
      settled();
    });
  });
  const nextOutcome = () => new Promise<void>((resolve) => (settled = resolve));
  return { url: `http://127.0.0.1:${port}`, outcomes, agent, nextOutcome };
}

/** A port nothing listens on (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const port = await listen(() => {});
  const server = servers.pop()!;
  server.close();
  await once(server, 'close');
  return port;
}

describe('the headers pass', () => {
  test('the answer keeps its end-to-end headers, loses hop-by-hop ones, and carries the request id', async () => {
    const upstream = await listen((_req, res) => {
      res.writeHead(201, {
        'x-app': 'yes',
        connection: 'keep-alive, x-hop',
        'x-hop': 'for the next hop only',
        'proxy-authenticate': 'Basic',
        'content-type': 'text/plain',
      });
      res.end('made');
    });
    const proxy = await proxyTo(upstream);
    const response = await fetch(`${proxy.url}/things`);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('made');
    expect(response.headers.get('x-app')).toBe('yes');
    expect(response.headers.get(HEADERS.requestId)).toBe('req-1');
    expect(response.headers.get('x-hop')).toBeNull();
    expect(response.headers.get('proxy-authenticate')).toBeNull();
  });
});

describe('the timeout pass', () => {
  test('past the timeout the client gets 504 TIMEOUT and the upstream request is aborted', async () => {
    let upstreamClosed!: () => void;
    const aborted = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = await listen((req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosed();
      });
      void req; // never answered
    });
    const proxy = await proxyTo(upstream, { timeoutMs: 200 });
    const response = await fetch(`${proxy.url}/slow`);
    expect(response.status).toBe(504);
    expect(response.headers.get(HEADERS.error)).toBe('TIMEOUT');
    expect(((await response.json()) as { error: { requestId: string } }).error.requestId).toBe('req-1');
    await aborted;
    expect(proxy.outcomes).toEqual(['TIMEOUT']);
  });
});

describe('the stream pass', () => {
  test('a 4 MiB body goes up and comes back byte for byte', async () => {
    const upstream = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    });
    const proxy = await proxyTo(upstream);
    const body = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    const response = await fetch(`${proxy.url}/echo`, { method: 'POST', body });
    expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
  });

  test('a bodiless request whose kept-alive connection the upstream drops is sent again', async () => {
    const served = new WeakMap<object, number>();
    const upstream = await listen((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      if (count > 1) return void req.socket.destroy(); // the app closes the reused connection
      res.end('fresh');
    });
    const proxy = await proxyTo(upstream);
    expect(await (await fetch(`${proxy.url}/a`)).text()).toBe('fresh');
    const second = await fetch(`${proxy.url}/b`);
    expect(second.status).toBe(200);
    expect(await second.text()).toBe('fresh');
  });

  test('a client that goes away aborts the upstream request', async () => {
    let upstreamClosed!: () => void;
    const aborted = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = await listen((req, res) => {
      res.on('close', () => upstreamClosed());
      res.writeHead(200);
      res.write('first part');
      void req;
    });
    const proxy = await proxyTo(upstream);
    const outcome = proxy.nextOutcome();
    const client = request(`${proxy.url}/stream`);
    client.end();
    const [answer] = (await once(client, 'response')) as [IncomingMessage];
    await once(answer, 'data');
    client.destroy();
    await aborted;
    await outcome;
    expect(proxy.outcomes).toEqual(['CLIENT_CLOSED']);
  });
});

describe('the body limit', () => {
  test('a body declared larger than the limit is refused 413 before the app sees anything', async () => {
    let reached = false;
    const upstream = await listen((_req, res) => {
      reached = true;
      res.end();
    });
    const proxy = await proxyTo(upstream, { maxBodyBytes: 1024 });
    const response = await fetch(`${proxy.url}/upload`, { method: 'POST', body: Buffer.alloc(2048) });
    expect(response.status).toBe(413);
    expect(response.headers.get(HEADERS.error)).toBe('BODY_TOO_LARGE');
    expect(reached).toBe(false);
    const fits = await fetch(`${proxy.url}/upload`, { method: 'POST', body: Buffer.alloc(1024) });
    expect(fits.status).toBe(200);
  });

  test('a chunked body is cut once it passes the limit: 413, and the app never gets the whole body', async () => {
    let wholeBodyArrived = false;
    const upstream = await listen((req, res) => {
      req.on('end', () => {
        wholeBodyArrived = true;
        res.end();
      });
      req.resume();
    });
    const proxy = await proxyTo(upstream, { maxBodyBytes: 4096 });
    const outcome = proxy.nextOutcome();
    const client = request(`${proxy.url}/upload`, { method: 'POST' }); // chunked: no length declared
    client.on('error', () => {});
    const answered = once(client, 'response') as Promise<[IncomingMessage]>;
    for (let i = 0; i < 8; i++) client.write(Buffer.alloc(1024));
    client.end();
    const [response] = await answered;
    expect(response.statusCode).toBe(413);
    expect(response.headers[HEADERS.error]).toBe('BODY_TOO_LARGE');
    await outcome;
    expect(proxy.outcomes).toEqual(['BODY_TOO_LARGE']);
    expect(wholeBodyArrived).toBe(false);
  });
});

describe('the errors pass', () => {
  test('an app that drops its answer midway cuts the client off, and the outcome names the app', async () => {
    const upstream = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('half of it');
      setImmediate(() => req.socket.destroy());
    });
    const proxy = await proxyTo(upstream);
    const outcome = proxy.nextOutcome();
    const client = request(`${proxy.url}/`);
    client.on('error', () => {});
    client.end();
    const [answer] = (await once(client, 'response')) as [IncomingMessage];
    answer.on('error', () => {}); // the cut answer errs with "aborted"
    answer.resume();
    await new Promise((resolve) => answer.on('close', resolve));
    await outcome;
    expect(proxy.outcomes).toEqual(['APP_UNREACHABLE']);
  });

  test('a refused connection is 502 APP_UNREACHABLE that says so', async () => {
    const proxy = await proxyTo(await closedPort());
    const response = await fetch(`${proxy.url}/`);
    expect(response.status).toBe(502);
    expect(response.headers.get(HEADERS.error)).toBe('APP_UNREACHABLE');
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /refused the connection/,
    );
  });

  test('with notServed, a refused connection writes nothing and hands the request back', async () => {
    const proxy = await proxyTo(await closedPort(), { notServed: () => false });
    const outcome = proxy.nextOutcome();
    const client = request(`${proxy.url}/`);
    client.on('error', () => {});
    client.end();
    await outcome;
    expect(proxy.outcomes).toEqual([{ notServed: 'ECONNREFUSED' }]);
    client.destroy();
  });

  test("an answer the upstream made without an app is handed back with the upstream's message", async () => {
    const upstream = await listen((_req, res) => {
      res.writeHead(503, { [HEADERS.error]: 'DRAINING', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'DRAINING', message: 'the instance is shutting down' } }));
    });
    const proxy = await proxyTo(upstream, {
      notServed: (answer) => answer.headers[HEADERS.error] === 'DRAINING',
    });
    const outcome = proxy.nextOutcome();
    const client = request(`${proxy.url}/`);
    client.on('error', () => {});
    client.end();
    await outcome;
    expect(proxy.outcomes).toEqual([{ notServed: 'DRAINING', message: 'the instance is shutting down' }]);
    client.destroy();
  });

  test('an upstream that drops the connection is explained by explainFailure when given', async () => {
    const upstream = await listen((req) => req.socket.destroy());
    const proxy = await proxyTo(upstream, {
      explainFailure: async (error, cause) =>
        new AdapterError('APP_EXITED', 502, `${error.message}; the app exited (${cause.code})`),
    });
    const response = await fetch(`${proxy.url}/crash`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(502);
    expect(response.headers.get(HEADERS.error)).toBe('APP_EXITED');
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(/closed the connection before answering.*the app exited \(ECONNRESET\)/);
  });
});

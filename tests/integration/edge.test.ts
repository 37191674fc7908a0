import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sampleImageRef } from '../../images/catalog.js';
import { startProber } from '../../bench/load.js';
import { edgeCommand } from '../../runner/src/edge/edge-socket.js';
import {
  instancesOf,
  revisionStarting,
  startRunner,
  until,
  type RunnerProcess,
} from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';
import { getOnOwnConnection } from '../helpers/own-connection.js';
import { edgeAdmin, edgeBackendOf, edgeServerStates } from '../helpers/edge-servers.js';

const docker = testDocker();

async function deploy(runner: RunnerProcess, fn: string, flags: string[] = []): Promise<void> {
  const result = await runner.cli(['deploy', sampleImageRef('express'), '--name', fn, ...flags]);
  if (result.exitCode !== 0) throw new Error(`deploy of ${fn} failed:\n${result.all}`);
}

interface ListedInstance {
  state: string;
  address: string;
  inflight: number;
}

/** A function's instances as `runner ls --json` lists them. */
async function listedInstances(runner: RunnerProcess, fn: string): Promise<ListedInstance[]> {
  const listed = JSON.parse((await runner.cli(['ls', '--json'])).stdout) as Array<{
    name: string;
    instances: ListedInstance[];
  }>;
  return listed.find((each) => each.name === fn)!.instances;
}

/** Waits until the runner counts at least `count` requests in flight at the function's first instance. */
function untilInFlight(runner: RunnerProcess, fn: string, count = 1): Promise<true> {
  return until(
    `${count} request(s) of ${fn} in flight`,
    async () => (await listedInstances(runner, fn))[0]!.inflight >= count || undefined,
  );
}

/** The sample's count of the most requests it held at once (of `plain`), from zero again. */
async function resetPeak(runner: RunnerProcess): Promise<void> {
  await fetch(`${runner.gateway}/fn/plain/peak`, { method: 'POST' }).then((res) => res.arrayBuffer());
}

async function readPeak(runner: RunnerProcess): Promise<{ peak: number }> {
  return (await (await fetch(`${runner.gateway}/fn/plain/peak`)).json()) as { peak: number };
}

/** What the edge's Runtime API says of a function's servers: name, address and port. */
async function edgeServers(
  runner: RunnerProcess,
  fn: string,
): Promise<Array<{ name: string; port: number }>> {
  return (
    (await edgeServerStates(runner.dataDir, fn))
      // Slots in use: not the activator, not forced into maintenance (admin state bit 1).
      .filter((fields) => fields[3] !== '_activator' && (Number(fields[6]) & 1) === 0)
      .map((fields) => ({ name: fields[3]!, port: Number(fields[18]) }))
  );
}

/** The pid of the edge's current worker: a reload makes a new one. */
async function edgeWorkerPid(runner: RunnerProcess): Promise<string | undefined> {
  return /^Pid: (\d+)/m.exec(await edgeCommand(edgeAdmin(runner.dataDir), 'show info'))?.[1];
}

/** A request to plain's app that takes ms; its status. */
function slow(runner: RunnerProcess, ms: number): Promise<number> {
  return fetch(`${runner.gateway}/fn/plain/slow?ms=${ms}`).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });
}

/**
 * Runs work while plain is at its concurrency with a queue behind it: two requests in flight at its app, two
 * queued at the edge, and a prober on new connections all along (one kept alive from before a reload would
 * stay with the old worker). The statuses of the first four, the probes that failed, and the app's peak.
 */
async function underQueue(
  runner: RunnerProcess,
  work: () => Promise<unknown>,
): Promise<{ first: number[]; failedProbes: unknown[]; peak: number }> {
  await resetPeak(runner);
  const first = Array.from({ length: 4 }, () => slow(runner, 3000));
  // Asked of the runner: a request to plain would wait behind these.
  await untilInFlight(runner, 'plain', 2);
  const prober = startProber(`${runner.gateway}/fn/plain/slow?ms=100`, 5, { newConnections: true });
  let probes: Array<{ status: number }> = [];
  try {
    await work();
  } finally {
    probes = await prober.stop();
  }
  return {
    first: await Promise.all(first),
    failedProbes: probes.filter((probe) => probe.status !== 200),
    peak: (await readPeak(runner)).peak,
  };
}

/** One raw request on its own connection; the whole answer as text. */
/** Headers meant for one connection only (RFC 9110 §7.6.1), and the one the request above names. */
const HOP_HEADER = /^(connection|keep-alive|te|trailer|upgrade|proxy-.*|x-hop)$/;

function rawRequest(port: number, bytes: string, waitMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const ending = setTimeout(() => socket.end(), waitMs);
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => {
      clearTimeout(ending);
      resolve(answer);
    });
    socket.on('error', () => resolve(answer));
    socket.write(bytes);
  });
}

describe('the edge (HAProxy) in front of every function', () => {
  let runner: RunnerProcess;
  let port: number;

  beforeAll(async () => {
    runner = await startRunner(docker);
    port = Number(new URL(runner.gateway).port);
    // Idle instances stay active through the whole file: no shrink changes what is measured.
    await deploy(runner, 'plain', ['--concurrency', '2', '--max', '1', '--reserve-after', '600']);
    await deploy(runner, 'local', ['--env', 'HOST=127.0.0.1', '--reserve-after', '600']);
    await deploy(runner, 'limited', ['--max-body-size', '1k', '--reserve-after', '600']);
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
  }, 60_000);

  test('--edge-busy-polling runs the edge without sleeping between events, and it serves as before', async () => {
    const busyPolling = async (of: RunnerProcess) =>
      /BusyPolling: (\d)/.exec(await edgeCommand(join(of.dataDir, 'edge', 'admin.sock'), 'show info'))?.[1];
    expect(await busyPolling(runner)).toBe('0');
    const busy = await startRunner(docker, { args: ['--edge-busy-polling'] });
    try {
      expect(await busyPolling(busy)).toBe('1');
      await deploy(busy, 'busy', ['--reserve-after', '600']);
      const response = await fetch(`${busy.gateway}/fn/busy/`);
      await response.arrayBuffer();
      expect(response.status).toBe(200);
    } finally {
      await busy.stop();
    }
  }, 120_000);

  test('routes /fn/NAME/… with the prefix stripped and Host: NAME.localhost; the edge sets the request id and context', async () => {
    const byPath = await fetch(`${runner.gateway}/fn/plain/headers?x=1`, {
      headers: { 'x-request-id': 'caller-id-1', 'x-pilotlight-context': 'forged' },
    });
    expect(byPath.status).toBe(200);
    expect(byPath.headers.get('x-request-id')).toBe('caller-id-1');
    const seen = (await byPath.json()) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/headers?x=1');
    expect(seen.headers['x-request-id']).toBe('caller-id-1');
    const context = JSON.parse(seen.headers['x-pilotlight-context']!) as Record<string, unknown>;
    expect(context).toMatchObject({ function: 'plain', requestId: 'caller-id-1' });
    expect(context['deadline']).toBeGreaterThan(Date.now());
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['forwarded']).toBe(`for=127.0.0.1;host="127.0.0.1:${port}";proto=http`);
    // Appended to an earlier proxy's, and a Host that is not one plain name is left out: this one would have
    // forged an element of its own.
    const behind = await rawRequest(
      port,
      'GET /fn/plain/headers HTTP/1.1\r\nHost: a.com, x", for=6.6.6.6;proto="https\r\n' +
        'Forwarded: for=192.0.2.1\r\nConnection: close\r\n\r\n',
    );
    expect(behind).toMatch(/^HTTP\/1.1 200/);
    expect(behind).toContain('"forwarded":"for=192.0.2.1, for=127.0.0.1;proto=http"');

    const byHost = await rawRequest(
      port,
      'GET /headers HTTP/1.1\r\nHost: plain.localhost\r\nConnection: close\r\n\r\n',
    );
    expect(byHost).toMatch(/^HTTP\/1.1 200/);
    expect(byHost).toContain('"url":"/headers"');
  });

  test('hop-by-hop headers stop at the edge both ways, for an app reached straight and one through its adapter', async () => {
    for (const fn of ['plain', 'local']) {
      const answer = await rawRequest(
        port,
        `GET /fn/${fn}/headers HTTP/1.1\r\nHost: x\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\n` +
          'Keep-Alive: 300\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eA==\r\n' +
          'Proxy-Connection: keep-alive\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1.1 200/);
      const seen = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        headers: Record<string, string>;
      };
      // Only the last hop's own Connection (keep-alive or close, from the edge or the adapter) may arrive.
      const passed = Object.entries(seen.headers).filter(
        ([name, value]) =>
          HOP_HEADER.test(name) && !(name === 'connection' && /^(keep-alive|close)$/.test(value)),
      );
      expect({ fn, passed }).toEqual({ fn, passed: [] });
      expect(seen.headers['x-end']).toBe('2');
      // Node's server answers a kept-alive request with its own keep-alive: timeout=5, meant for the edge only.
      const kept = await fetch(`${runner.gateway}/fn/${fn}/`);
      expect({ fn, keepAlive: kept.headers.get('keep-alive') }).toEqual({ fn, keepAlive: null });
    }
  });

  test('clients never reach /_/, not even in absolute form; unknown names get 404 with a JSON error', async () => {
    const reserved = await fetch(`${runner.gateway}/fn/plain/_/stats`);
    expect(reserved.status).toBe(403);
    expect(reserved.headers.get('x-pilotlight-error')).toBe('RESERVED_PATH');
    expect(reserved.headers.get('x-request-id')).toBeTruthy();
    const absolute = await rawRequest(
      port,
      'GET http://x/fn/plain/_/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(absolute).toMatch(/^HTTP\/1.1 403/);
    expect(absolute).toContain('RESERVED_PATH');
    for (const disguised of [
      '/fn/plain//_/stats',
      '/fn/plain/%5F/stats',
      '/fn/plain/x/../_/stats',
      '/fn/plain/%2F_/stats',
    ]) {
      const answer = await rawRequest(
        port,
        `GET ${disguised} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect({ disguised, status: answer.slice(0, 12) }).toEqual({ disguised, status: 'HTTP/1.1 403' });
    }
    expect(absolute).toMatch(/\r\nx-request-id: \S+\r\n/);
    for (const path of ['/healthz', '/nowhere']) {
      const own = await fetch(`${runner.gateway}${path}`, {
        headers: { 'x-request-id': `edge-${path.slice(1)}` },
      });
      expect({ path, id: own.headers.get('x-request-id') }).toEqual({ path, id: `edge-${path.slice(1)}` });
    }
    const unknown = await fetch(`${runner.gateway}/fn/nobody/`);
    expect(unknown.status).toBe(404);
    const body = (await unknown.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('UNKNOWN_FUNCTION');
    expect(body.error.requestId).toBe(unknown.headers.get('x-request-id'));
  });

  test('an app that listens on all interfaces is reached at its own port; one on loopback through the adapter', async () => {
    const direct = await edgeServers(runner, 'plain');
    expect(direct.length).toBe(1);
    expect(direct[0]!.port).toBe(3000);
    const local = await edgeServers(runner, 'local');
    expect(local[0]!.port).toBe(9000);
    const answer = await fetch(`${runner.gateway}/fn/local/`);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('hello from express\n');
  });

  test('the concurrency limit holds exactly under a burst of 10× (queued at the edge, not refused)', async () => {
    await resetPeak(runner);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${runner.gateway}/fn/plain/slow?ms=150`).then((res) => res.status),
      ),
    );
    expect(answers.every((status) => status === 200)).toBe(true);
    const peak = await readPeak(runner);
    expect(peak.peak).toBe(2);
  });

  test('clients that leave mid-request do not let more requests into the app than its concurrency', async () => {
    await resetPeak(runner);
    await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${runner.gateway}/fn/plain/slow?ms=600`, { signal: AbortSignal.timeout(100) }).catch(
          () => 'left',
        ),
      ),
    );
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetch(`${runner.gateway}/fn/plain/slow?ms=50`).then((res) => res.status),
      ),
    );
    expect(answers.every((status) => status === 200)).toBe(true);
    const peak = await readPeak(runner);
    expect(peak.peak).toBe(2);
  });

  test('limits and bad input: 413, 431, 408 for a slow client, and 400 for malformed framing with nothing reaching the app', async () => {
    const big = await fetch(`${runner.gateway}/fn/limited/echo`, { method: 'POST', body: 'x'.repeat(2048) });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-pilotlight-error')).toBe('BODY_TOO_LARGE');
    // A chunked body declares no length: a function with a body limit is reached through its adapter,
    // which cuts the body as it passes the limit.
    expect((await edgeServers(runner, 'limited'))[0]!.port).toBe(9000);
    const chunked = await rawRequest(
      port,
      'POST /fn/limited/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '800\r\n' +
        'x'.repeat(2048) +
        '\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1.1 413/);
    expect(chunked).toContain('BODY_TOO_LARGE');
    const headers = await fetch(`${runner.gateway}/fn/plain/`, { headers: { 'x-big': 'a'.repeat(17_000) } });
    expect(headers.status).toBe(431);
    // Many small headers within the size limit are a valid request (HAProxy alone takes 101 lines).
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, at) => [`x-h${at}`, String(at)]));
    const manyAnswer = await fetch(`${runner.gateway}/fn/plain/headers`, { headers: many });
    expect(manyAnswer.status).toBe(200);
    expect(Object.keys(((await manyAnswer.json()) as { headers: object }).headers)).toContain('x-h299');

    await resetPeak(runner);
    const corpus: Record<string, string> = {
      'two differing Content-Lengths':
        'POST /fn/plain/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
      'a Transfer-Encoding other than chunked':
        'POST /fn/plain/slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcd',
      'a bare CR': 'GET /fn/plain/slow HTTP/1.1\r\nHost: x\rX: y\r\n\r\n',
      'a space before the colon':
        'GET /fn/plain/slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n',
    };
    for (const [what, bytes] of Object.entries(corpus)) {
      const answer = await rawRequest(port, bytes);
      expect({ what, status: answer.slice(0, 12) }).toEqual({ what, status: 'HTTP/1.1 400' });
    }
    const peak = await readPeak(runner);
    expect(peak.peak).toBe(0);

    // One header byte every 2 s: 408 within about 10 s, while others are served meanwhile.
    const started = Date.now();
    const slow = new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      const bytes = 'GET /fn/plain/ HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnop';
      let at = 0;
      const timer = setInterval(() => socket.write(bytes[at++] ?? 'z'), 2000);
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => {
        clearInterval(timer);
        resolve(answer);
      });
    });
    const meanwhile = await fetch(`${runner.gateway}/fn/plain/`);
    expect(meanwhile.status).toBe(200);
    const answer = await slow;
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(Date.now() - started).toBeLessThan(13_000);
  }, 30_000);

  // HAProxy reads these two shapes one way only, as RFC 9112 allows, before any rule could refuse them.
  test('Content-Length with Transfer-Encoding, and obs-fold: the app gets one unambiguous request, and nothing smuggled', async () => {
    const started = Date.now();
    const smuggled = 'GET /fn/plain/headers?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n';
    const both = await rawRequest(
      port,
      'POST /fn/plain/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `5\r\nabcde\r\n0\r\n\r\n${smuggled}`,
      10_000,
    );
    // The chunked framing wins, the length is dropped, and the connection closes after the one answer (§6.3).
    expect(both).toMatch(/^HTTP\/1.1 200 /);
    expect(both.match(/HTTP\/1.1 \d{3}/g)).toHaveLength(1);
    expect(both.endsWith('\r\n\r\nabcde')).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);

    // The fold is read as spaces (§5.2): a folded line cannot start a header of its own.
    const folded = await rawRequest(
      port,
      'GET /fn/plain/headers HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n X-Injected: 1\r\nConnection: close\r\n\r\n',
    );
    expect(folded).toMatch(/^HTTP\/1.1 200 /);
    const seen = JSON.parse(folded.slice(folded.indexOf('\r\n\r\n') + 4)) as {
      headers: Record<string, string>;
    };
    expect(seen.headers['x-injected']).toBeUndefined();
    expect(seen.headers['x-folded']).toMatch(/^a\s+X-Injected: 1$/);
  });

  test('a WebSocket reaches the app both ways and counts as in flight', async () => {
    const socket = new WebSocket(`${runner.gateway.replace('http', 'ws')}/fn/plain/ws`);
    const echoed = new Promise<string>((resolve, reject) => {
      socket.addEventListener('message', (event) => resolve(String(event.data)));
      socket.addEventListener('error', () => reject(new Error('websocket failed')));
    });
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    socket.send('ping');
    expect(await echoed).toBe('echo: ping');
    const inFlight = await until('the open WebSocket counted at the edge', async () => {
      const count = (await listedInstances(runner, 'plain'))[0]!.inflight;
      return count >= 1 ? count : undefined;
    });
    expect(inFlight).toBeGreaterThanOrEqual(1);
    socket.close();
  });

  test('a request is ended at its function timeout even while bytes keep moving (a dripping answer, a slow upload); an open WebSocket is not', async () => {
    await deploy(runner, 'brief', [
      '--timeout',
      '2s',
      '--concurrency',
      '2',
      '--max',
      '1',
      '--reserve-after',
      '600',
    ]);
    const socket = new WebSocket(`${runner.gateway.replace('http', 'ws')}/fn/brief/ws`);
    await new Promise((resolve) => socket.addEventListener('open', resolve));

    // 40 chunks, 200 ms apart: 8 s of an answer that is never idle for HAProxy's timeout server.
    const dripStarted = Date.now();
    const drip = await fetch(`${runner.gateway}/fn/brief/stream?count=40&interval=200`);
    expect(drip.status).toBe(200);
    const body = await drip.text().catch(() => 'cut');
    const dripMs = Date.now() - dripStarted;
    expect(body.split('\n').length).toBeLessThan(40);
    expect(dripMs).toBeGreaterThanOrEqual(2000);
    // Ended within a couple of the keeper's half-second looks (about 2.4 s here), not at the drip's 8 s.
    expect(dripMs).toBeLessThan(4500);

    // A body of 100 bytes, one every 300 ms: 30 s of upload holding the slot the WebSocket leaves.
    const uploadStarted = Date.now();
    const upload = await new Promise<string>((resolve) => {
      const raw = connect(port, '127.0.0.1');
      let answer = '';
      raw.write('POST /fn/brief/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
      const timer = setInterval(() => raw.write('x'), 300);
      raw.on('data', (chunk) => (answer += chunk.toString()));
      raw.on('close', () => {
        clearInterval(timer);
        resolve(answer);
      });
      raw.on('error', () => undefined);
    });
    expect(upload).not.toMatch(/^HTTP\/1\.1 200/);
    expect(Date.now() - uploadStarted).toBeLessThan(4500);
    // The slot is free again at once.
    expect((await fetch(`${runner.gateway}/fn/brief/`)).status).toBe(200);

    // The WebSocket, open through both (over 4 s, twice the timeout), still echoes.
    const echoed = new Promise<string>((resolve) =>
      socket.addEventListener('message', (event) => resolve(String(event.data))),
    );
    socket.send('still there');
    expect(await echoed).toBe('echo: still there');
    socket.close();
  });

  test('the idle time of a kept-alive connection does not count against the next request on it, however busy the function', async () => {
    await deploy(runner, 'kept', ['--timeout', '2s', '--reserve-after', '600']);
    // Busy without a break, so its requests are watched for their timeout all along.
    const prober = startProber(`${runner.gateway}/fn/kept/slow?ms=300`, 10, { newConnections: true });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
        const req = request(`${runner.gateway}/fn/kept${path}`, { agent }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, reused: req.reusedSocket }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect((await get('/')).status).toBe(200);
      for (let round = 0; round < 2; round++) {
        // Idle past the timeout on purpose: that idle time is what must not count.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const answer = await get('/slow?ms=500');
        expect(answer).toEqual({ status: 200, body: 'slept 500 ms\n', reused: true });
      }
    } finally {
      agent.destroy();
      const results = await prober.stop();
      expect(results.filter((probe) => probe.status !== 200)).toEqual([]);
    }
  }, 60_000);

  test('a cold start longer than the function timeout does not count against it; the app still gets only its timeout', async () => {
    // The app answers its first request (the readiness probe's too) 2.5 s after it starts; the timeout is 1 s.
    await deploy(runner, 'sleepy', [
      ...['--timeout', '1s', '--min', '0', '--zero-after', '1s', '--reserve-after', '1s'],
      ...['--env', 'STARTUP_DELAY_MS=2500'],
    ]);
    await until(
      'the function at zero instances',
      async () => (await listedInstances(runner, 'sleepy')).length === 0 || undefined,
    );
    const started = Date.now();
    const cold = await fetch(`${runner.gateway}/fn/sleepy/`);
    expect(cold.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const slow = await fetch(`${runner.gateway}/fn/sleepy/slow?ms=3000`);
    expect(slow.status).toBe(504);
    expect(slow.headers.get('x-pilotlight-error')).toBe('TIMEOUT');
  });

  test('a request that waited in the queue still gets its whole timeout at the app, and past it a 504', async () => {
    await deploy(runner, 'queued', [
      '--timeout',
      '3s',
      '--concurrency',
      '1',
      '--max',
      '1',
      '--reserve-after',
      '600',
    ]);
    const timed = async (ms: number) => {
      const started = Date.now();
      const res = await fetch(`${runner.gateway}/fn/queued/slow?ms=${ms}`);
      await res.arrayBuffer();
      return { status: res.status, error: res.headers.get('x-pilotlight-error'), ms: Date.now() - started };
    };
    const inFlight = () => untilInFlight(runner, 'queued');
    // The second waits 2 s in the edge's queue, then runs 2 s: 4 s at the edge, 2 s of its 3 s at the app.
    const first = timed(2000);
    await inFlight();
    const second = await timed(2000);
    expect((await first).status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.ms).toBeGreaterThanOrEqual(3500);
    // Queued about 1 s behind another, then longer than the timeout at the app: the edge's 504, 3 s after it began.
    const ahead = timed(1000);
    await inFlight();
    const late = await timed(5000);
    expect((await ahead).status).toBe(200);
    expect(late).toMatchObject({ status: 504, error: 'TIMEOUT' });
    expect(late.ms).toBeGreaterThanOrEqual(3000);
    expect(late.ms).toBeLessThan(5000);
  }, 60_000);

  test('a client that half-closes after a complete request still gets its answer', async () => {
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => {
        socket.write('GET /fn/plain/slow?ms=200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        socket.end();
      });
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  test('an app that dies mid-request: 502 with the request id on a fresh connection; on a kept-alive one the connection closes unanswered, the sign to retry', async () => {
    await deploy(runner, 'dies', ['--min', '1']);
    const fresh = await getOnOwnConnection(`${runner.gateway}/fn/dies/crash`, { 'x-request-id': 'dies-1' });
    expect(fresh.status).toBe(502);
    expect(fresh.headers['x-pilotlight-error']).toBe('APP_UNREACHABLE');
    expect(JSON.parse(fresh.body)).toMatchObject({ error: { code: 'APP_UNREACHABLE', requestId: 'dies-1' } });

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<number | string>((resolve) => {
        const req = request(`${runner.gateway}/fn/dies${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        req.end();
      });
    await until('the replacement serves', async () => ((await get('/')) === 200 ? true : undefined));
    const kept = await get('/crash');
    expect([502, 'ECONNRESET']).toContain(kept);
    agent.destroy();
  }, 60_000);

  test('a function that needs a backend of a new shape is added with a seamless reload: no request fails', async () => {
    // A reload closes the old worker's idle connections: a GET that crosses that close is sent again on a new
    // connection, as browsers do (about one per reload at 200 req/s). A request cut in flight is a failure.
    const worker = await edgeWorkerPid(runner);
    const prober = startProber(`${runner.gateway}/fn/plain/`, 50, { retryClosedIdle: true });
    // A queue timeout no backend has yet (it follows a timeout under the start wait): only a reload makes one.
    await deploy(runner, 'added', ['--timeout', '7s']);
    await deploy(runner, 'plain', ['--concurrency', '2', '--max', '1', '--reserve-after', '600']);
    const results = await prober.stop();
    expect(await edgeWorkerPid(runner)).not.toBe(worker);
    expect(results.length).toBeGreaterThan(50);
    expect(results.filter((result) => result.status !== 200)).toEqual([]);
    expect(results.filter((result) => result.retried).length).toBeLessThanOrEqual(5);
    expect((await fetch(`${runner.gateway}/fn/added/`)).status).toBe(200);
  }, 120_000);

  test('reloads under a queue: another function stays within its concurrency while the old workers finish, and no request fails', async () => {
    const worker = await edgeWorkerPid(runner);
    // Three queue timeouts no backend has yet, deployed at once: reloads one after the other, each leaving an
    // old worker with plain's requests in flight or queued.
    const load = await underQueue(runner, () =>
      Promise.all(
        ['8s', '9s', '11s'].map((timeout, at) => deploy(runner, `shape${at}`, ['--timeout', timeout])),
      ),
    );
    expect(await edgeWorkerPid(runner)).not.toBe(worker);
    expect(load).toEqual({ first: [200, 200, 200, 200], failedProbes: [], peak: 2 });
    // The old workers' requests over, plain takes its whole concurrency in the new one.
    await resetPeak(runner);
    expect(await Promise.all(Array.from({ length: 4 }, () => slow(runner, 1000)))).toEqual([
      200, 200, 200, 200,
    ]);
    expect((await readPeak(runner)).peak).toBe(2);
  }, 120_000);

  test('a request the activator holds while a reload holds the instance still gets its whole timeout at the app', async () => {
    await deploy(runner, 'heldtime', [
      '--timeout',
      '3s',
      '--concurrency',
      '1',
      '--max',
      '1',
      '--reserve-after',
      '600',
    ]);
    const long = fetch(`${runner.gateway}/fn/heldtime/slow?ms=2800`).then((res) => res.status);
    await untilInFlight(runner, 'heldtime');
    // A reload: the old worker keeps the long request, so the new one holds the instance until it ends.
    await deploy(runner, 'reshaped', ['--timeout', '19s']);
    const started = Date.now();
    const held = await fetch(`${runner.gateway}/fn/heldtime/slow?ms=2500`);
    // Over 3 s after it was sent, but 2.5 s at the app: the wait for room does not count.
    expect(held.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThan(3000);
    expect(await long).toBe(200);
  }, 60_000);

  test('a release reloads nothing: requests in flight and queued for another function stay within its concurrency, and the context names the new revision', async () => {
    await deploy(runner, 'released', ['--reserve-after', '600']);
    const worker = await edgeWorkerPid(runner);
    const load = await underQueue(runner, () =>
      deploy(runner, 'released', ['--reserve-after', '600', '--env', 'RELEASE=2']),
    );
    // A reload would have left the first requests to an old worker, and let the new one send 2 more at once.
    expect(load).toEqual({ first: [200, 200, 200, 200], failedProbes: [], peak: 2 });
    expect(await edgeWorkerPid(runner)).toBe(worker);
    const listed = JSON.parse((await runner.cli(['ls', '--json'])).stdout) as Array<{
      name: string;
      revision: number;
    }>;
    const revision = listed.find((each) => each.name === 'released')!.revision;
    expect(revision).toBeGreaterThan(1);
    const seen = (await (await fetch(`${runner.gateway}/fn/released/headers`)).json()) as {
      headers: Record<string, string>;
    };
    expect(JSON.parse(seen.headers['x-pilotlight-context']!)).toMatchObject({ revision: String(revision) });
  }, 120_000);
});

describe('the edge adds and removes functions at run time', () => {
  let runner: RunnerProcess;

  beforeAll(async () => {
    runner = await startRunner(docker);
    await deploy(runner, 'plain', ['--concurrency', '2', '--max', '1', '--reserve-after', '600']);
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
  }, 60_000);

  test('deploying, changing and removing a function reloads nothing: another function under a queue stays within its concurrency, and no request fails', async () => {
    // Another function of plain's shape, to have been deployed the once that needs a reload (the first one).
    await deploy(runner, 'first', ['--concurrency', '2', '--max', '1', '--reserve-after', '600']);
    const worker = await edgeWorkerPid(runner);
    const echo = (size: number) =>
      fetch(`${runner.gateway}/fn/extra/echo`, { method: 'POST', body: 'x'.repeat(size) }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status;
        },
      );
    let extraBackend = '';
    const load = await underQueue(runner, async () => {
      await deploy(runner, 'extra', ['--concurrency', '2', '--max', '1', '--max-body-size', '2k']);
      expect(await echo(3000)).toBe(413);
      extraBackend = await edgeBackendOf(runner.dataDir, 'extra');
      await deploy(runner, 'extra', ['--concurrency', '2', '--max', '1', '--max-body-size', '4k']);
      expect(await echo(3000)).toBe(200);
      expect(await runner.cli(['rm', 'extra'])).toMatchObject({ exitCode: 0 });
      expect((await fetch(`${runner.gateway}/fn/extra/`)).status).toBe(404);
      // Its backend serves the next function deployed.
      await deploy(runner, 'again', ['--concurrency', '2', '--max', '1']);
      expect((await fetch(`${runner.gateway}/fn/again/`)).status).toBe(200);
    });
    expect(load).toEqual({ first: [200, 200, 200, 200], failedProbes: [], peak: 2 });
    expect(await edgeWorkerPid(runner)).toBe(worker);
    expect(await edgeBackendOf(runner.dataDir, 'again')).toBe(extraBackend);
  }, 180_000);

  test('a scale-out under a queue: every instance that comes up takes its concurrency from the queue, and no more', async () => {
    await deploy(runner, 'burst', [
      '--concurrency',
      '2',
      '--min',
      '1',
      '--max',
      '3',
      '--reserve-after',
      '600',
    ]);
    // Eight times the one instance's concurrency, for long enough that the new instances come up under the queue.
    const requests = Array.from({ length: 16 }, () =>
      fetch(`${runner.gateway}/fn/burst/slow?ms=2000`).then((res) => res.status),
    );
    // And more arriving all along: each new instance comes up while requests arrive as well as wait.
    const prober = startProber(`${runner.gateway}/fn/burst/slow?ms=200`, 10, { newConnections: true });
    const instances = await until('the scale-out', async () => {
      const active = (await listedInstances(runner, 'burst')).filter((i) => i.state === 'active');
      return active.length === 3 ? active : undefined;
    });
    expect(await Promise.all(requests)).toEqual(Array.from({ length: 16 }, () => 200));
    expect((await prober.stop()).filter((probe) => probe.status !== 200)).toEqual([]);
    // Each instance's app counts the most requests it held at once.
    const peaks = await Promise.all(
      instances.map(async (instance) => {
        const app = `http://${new URL(instance.address).hostname}:3000/peak`;
        return ((await (await fetch(app)).json()) as { peak: number }).peak;
      }),
    );
    expect(peaks).toEqual([2, 2, 2]);
  }, 120_000);

  test('an rm followed at once by a deploy of the same name: the deploy waits for the removal, then the function serves', async () => {
    await deploy(runner, 'twice', ['--concurrency', '2', '--max', '1', '--env', 'GENERATION=1']);
    const inflight = fetch(`${runner.gateway}/fn/twice/slow?ms=2000`).then((res) => res.status);
    await untilInFlight(runner, 'twice');
    const removing = runner.cli(['rm', 'twice']);
    await until('the removal begun', async () =>
      (await listedInstances(runner, 'twice').catch(() => undefined)) === undefined ? true : undefined,
    );
    await deploy(runner, 'twice', ['--concurrency', '2', '--max', '1', '--env', 'GENERATION=2']);
    expect((await removing).exitCode).toBe(0);
    expect(await inflight).toBe(200);
    const env = await fetch(`${runner.gateway}/fn/twice/env`);
    expect(env.status).toBe(200);
    expect(((await env.json()) as Record<string, string>)['GENERATION']).toBe('2');
    // And the other way round: an rm during a redeploy waits for it, then removes the function.
    const redeploying = runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'twice',
      '--concurrency',
      '2',
      '--max',
      '1',
      '--env',
      'STARTUP_DELAY_MS=2000',
    ]);
    await revisionStarting(docker, runner.runnerId, 'twice', 2);
    expect(await runner.cli(['rm', 'twice'])).toMatchObject({ exitCode: 0 });
    expect((await redeploying).exitCode).toBe(0);
    expect((await fetch(`${runner.gateway}/fn/twice/`)).status).toBe(404);
  }, 120_000);

  test('a deploy the edge cannot take is undone: a new function is not there, a redeployed one serves its revision before, and both deploy once the edge is back', async () => {
    await deploy(runner, 'undone', ['--concurrency', '2', '--max', '1', '--env', 'GENERATION=1']);
    const generation = async (fn: string) =>
      ((await (await fetch(`${runner.gateway}/fn/${fn}/env`)).json()) as Record<string, string>)[
        'GENERATION'
      ];
    // A master stopped: the edge's worker serves, but no reload can be done.
    const master = Number(
      readFileSync(join(runner.dataDir, 'edge', 'haproxy.pid'), 'utf8')
        .trim()
        .split('\n')[0],
    );
    process.kill(master, 'SIGSTOP');
    try {
      // Both need a backend of a shape the edge does not have (a queue timeout of their own): a reload.
      const changed = ['--concurrency', '2', '--max', '1', '--timeout', '13s', '--env', 'GENERATION=2'];
      const redeploy = await runner.cli([
        'deploy',
        sampleImageRef('express'),
        '--name',
        'undone',
        ...changed,
      ]);
      expect(redeploy.exitCode).not.toBe(0);
      expect(redeploy.stderr).toMatch(
        /revision 2 of undone was undone, since the edge could not take it .*undone still serves revision 1/,
      );
      const fresh = await runner.cli([
        'deploy',
        sampleImageRef('express'),
        '--name',
        'fresh',
        '--timeout',
        '14s',
      ]);
      expect(fresh.exitCode).not.toBe(0);
      expect(fresh.stderr).toMatch(/fresh is not deployed/);
      expect(await generation('undone')).toBe('1');
      expect((await fetch(`${runner.gateway}/fn/fresh/`)).status).toBe(404);
      const listed = JSON.parse((await runner.cli(['ls', '--json'])).stdout) as Array<{
        name: string;
        revision: number;
      }>;
      expect(listed.find((each) => each.name === 'fresh')).toBeUndefined();
      expect(listed.find((each) => each.name === 'undone')?.revision).toBe(1);
      // Their instances are gone, and nothing of the failed revision is left.
      await until('the failed instances gone', async () => {
        const left = [
          ...(await instancesOf(docker, runner.runnerId, 'fresh')),
          ...(await instancesOf(docker, runner.runnerId, 'undone')),
        ];
        return left.length === 1 && left[0]!.Labels['pilotlight.function'] === 'undone' ? true : undefined;
      });
    } finally {
      process.kill(master, 'SIGCONT');
    }
    // The new function first: the failed reload's view had a backend of its shape the edge never got.
    await deploy(runner, 'fresh', ['--timeout', '14s', '--env', 'GENERATION=1']);
    expect(await generation('fresh')).toBe('1');
    await deploy(runner, 'undone', [
      '--concurrency',
      '2',
      '--max',
      '1',
      '--timeout',
      '13s',
      '--env',
      'GENERATION=2',
    ]);
    expect(await generation('undone')).toBe('2');
  }, 180_000);
});

describe('the edge outlives the runner', () => {
  test('kill -9 of the runner drops no request to a warm instance, a function with none up answers RUNNER_UNAVAILABLE, and a restarted runner adopts the edge without a gap', async () => {
    const first = await startRunner(docker);
    await deploy(first, 'steady', ['--min', '1']);
    await deploy(first, 'idle', ['--min', '0', '--zero-after', '1s', '--reserve-after', '1s']);
    await until(
      'idle at zero instances',
      async () => (await listedInstances(first, 'idle')).length === 0 || undefined,
    );
    const backends = async () => ({
      steady: await edgeBackendOf(first.dataDir, 'steady'),
      idle: await edgeBackendOf(first.dataDir, 'idle'),
    });
    const before = await backends();
    const url = `${first.gateway}/fn/steady/slow?ms=200`;
    // The restarted runner reloads the edge: see the seamless reload test for the retry.
    const prober = startProber(url, 20, { retryClosedIdle: true });
    await until('probes answered', async () =>
      prober.results.filter((r) => r.status === 200).length > 10 ? true : undefined,
    );
    await first.kill();
    const killedAt = prober.results.length;
    await until('probes answered while the runner is down', async () =>
      prober.results.length > killedAt + 20 ? true : undefined,
    );
    // A function with no instance up cannot be woken meanwhile: the edge says why, not that it lacks room.
    const cold = await until('the edge knows the runner is down', async () => {
      const answer = await fetch(`${first.gateway}/fn/idle/`);
      return answer.headers.get('x-pilotlight-error') === 'RUNNER_UNAVAILABLE' ? answer : undefined;
    });
    expect(cold.status).toBe(503);
    const second = await startRunner(docker, { dataDir: first.dataDir });
    expect(second.gateway).toBe(first.gateway);
    const adoptedAt = prober.results.length;
    await until('probes answered after the restart', async () =>
      prober.results.length > adoptedAt + 20 ? true : undefined,
    );
    const results = await prober.stop();
    expect(results.filter((result) => result.status !== 200)).toEqual([]);
    expect(results.filter((result) => result.retried).length).toBeLessThanOrEqual(5);
    // Each function keeps its backend, the old worker's as well as the new one's.
    expect(await backends()).toEqual(before);
    await second.stop();
  }, 120_000);

  test('a runner killed while a reload holds an instance for the old worker: the edge serves it anyway, and a restarted runner gives it back', async () => {
    const first = await startRunner(docker);
    let second: RunnerProcess | undefined;
    try {
      await deploy(first, 'single', ['--concurrency', '1', '--max', '1', '--reserve-after', '600']);
      const long = fetch(`${first.gateway}/fn/single/slow?ms=5000`).then((res) => res.status);
      await untilInFlight(first, 'single');
      // A reload: the new worker holds single's server (up at weight 0) while the old one has its request.
      await deploy(first, 'reshaped', ['--timeout', '17s']);
      const held = async () =>
        (await edgeServerStates(first.dataDir, 'single')).some(
          // Fields: … srv_op_state (2: running), srv_admin_state (bit 1: maintenance), srv_uweight.
          (fields) =>
            fields[3] !== '_activator' &&
            fields[5] === '2' &&
            (Number(fields[6]) & 1) === 0 &&
            fields[7] === '0',
        );
      expect(await held()).toBe(true);
      await first.kill();
      expect(await long).toBe(200);
      // No runner to give it back: the edge sends it requests itself once it finds the runner gone.
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${first.gateway}/fn/single/`)).status);
      expect(statuses).toEqual([200, 200, 200]);
      // More at once than it has room for: they wait their turn, as in the backend's queue.
      const together = await Promise.all(
        Array.from({ length: 3 }, () =>
          fetch(`${first.gateway}/fn/single/slow?ms=500`).then((res) => res.status),
        ),
      );
      expect(together).toEqual([200, 200, 200]);
      second = await startRunner(docker, { dataDir: first.dataDir });
      await until('single given back', async () => ((await held()) ? undefined : true));
      expect((await fetch(`${second.gateway}/fn/single/`)).status).toBe(200);
    } finally {
      // Whatever failed: its edge and containers go (the restarted runner's are the first's).
      await (second ?? first).stop();
    }
  }, 120_000);
});

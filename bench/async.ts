/**
 * Async invocations, each figure beside its baseline in the same run:
 *
 * 1. durable enqueues per second, fsync on (synchronous=FULL): in the store with group commit, and through
 *    the gateway (202 only once stored), against the goal of 2,000/s;
 * 2. the added latency of an async round trip (accepted → the app's answer recorded) against a sync call of
 *    the same function.
 *
 *   npm run bench:async -- [--seconds 5] [--clients 32] [--samples 50]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HEADERS } from '../adapter/contract/contract.js';
import { sampleImageRef } from '../images/catalog.js';
import { GroupCommit } from '../runner/src/async/group-commit.js';
import { InvocationStore } from '../runner/src/async/invocation-store.js';
import { systemClock } from '../runner/src/instances/clock.js';
import { median } from './load.js';
import { deploy, startBenchRunner, sleep } from './runner-harness.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '32' },
    samples: { type: 'string', default: '50' },
  },
});
const durationMs = Number(values.seconds) * 1000;
const clients = Number(values.clients);
const samples = Number(values.samples);

/** `clients` loops of `work` for durationMs: completions per second. */
async function closedLoop(work: () => Promise<boolean>): Promise<{ perSecond: number; errors: number }> {
  const deadline = performance.now() + durationMs;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        if (await work()) done += 1;
        else errors += 1;
      }
    }),
  );
  return { perSecond: done / (durationMs / 1000), errors };
}

async function storeRate(): Promise<{ perSecond: number; errors: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'pilotlight-bench-queue-'));
  const store = new InvocationStore(join(dir, 'invocations.db'));
  const commit = new GroupCommit(store, systemClock);
  let n = 0;
  try {
    return await closedLoop(async () => {
      const id = `e-${n++}`;
      const { duplicate } = await commit.accept({
        id,
        function: 'bench',
        contentType: 'application/json',
        payload: Buffer.from('{"order":17}'),
      });
      return !duplicate;
    });
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function post(url: URL, agent: Agent, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const runner = await startBenchRunner(1000);
try {
  console.log(`async invocations: ${clients} clients for ${values.seconds}s; ${samples} round trips`);
  const store = await storeRate();

  // A function whose dispatcher drains the queue slowly, so the gateway's figure is acceptance alone.
  const url = new URL(
    await deploy(runner.client, sampleImageRef('express'), 'asyncbench', { asyncConcurrency: 1 }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const echo = new URL('echo', url);
  const gateway = await closedLoop(
    async () =>
      (await post(echo, agent, { [HEADERS.invocationType]: 'Event', 'content-type': 'text/plain' }, 'x')) ===
      202,
  );

  const roundTripUrl = await deploy(runner.client, sampleImageRef('express'), 'roundtrip', {});
  const sync: number[] = [];
  const asyncTrips: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await (await fetch(roundTripUrl)).text();
    sync.push(performance.now() - started);

    const accepted = await fetch(roundTripUrl, { headers: { [HEADERS.invocationType]: 'Event' } });
    const { invocationId } = (await accepted.json()) as { invocationId: string };
    for (;;) {
      const record = await runner.client.json<{
        state: string;
        acceptedAt: number;
        attempts: Array<{ at: number; durationMs: number }>;
      }>('GET', `/v1/invocations/${invocationId}`);
      if (record.state === 'succeeded') {
        const last = record.attempts.at(-1)!;
        asyncTrips.push(last.at + last.durationMs - record.acceptedAt);
        break;
      }
      await sleep(5);
    }
  }

  console.log('\n1. durable enqueues per second (fsync on: WAL, synchronous=FULL)');
  console.log('| path | per second | errors |');
  console.log('| --- | --- | --- |');
  console.log(`| store, group commit | ${store.perSecond.toFixed(0)} | ${store.errors} |`);
  console.log(`| gateway → 202 (stored first) | **${gateway.perSecond.toFixed(0)}** | ${gateway.errors} |`);
  console.log('(goal: ≥ 2,000/s)');
  console.log('\n2. round trip: accepted → the app has answered (recorded), against a sync call (median ms)');
  console.log('| path | median ms |');
  console.log('| --- | --- |');
  console.log(`| sync GET through the gateway | ${median(sync).toFixed(1)} |`);
  console.log(`| async, accepted → answered | ${median(asyncTrips).toFixed(1)} |`);
  console.log(`| added by going async | **+${(median(asyncTrips) - median(sync)).toFixed(1)}** |`);
} finally {
  await runner.stop();
}
console.log('done');

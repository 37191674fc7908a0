/**
 * A function held at saturation: max 1 instance, concurrency 1, and 20 clients calling in a loop, so that
 * requests queue in the activator the whole time. Throughput per 10 s slice must stay flat (the autoscaler's
 * cost per request must not grow with time); the baseline, in the same run, is one client looping straight to
 * the app (the same one-at-a-time service without the gateway).
 *
 *   npm run bench:saturation -- [--seconds 120] [--clients 20]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { sampleImageRef } from '../images/catalog.js';
import { deploy, instances, startBenchRunner } from './runner-harness.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, clients: { type: 'string', default: '20' } },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const sliceMs = 10_000;

/** `clients` loops of GET url for durationMs; answers with status 200 counted per slice. */
async function closedLoop(
  url: string,
  clients: number,
  durationMs: number,
): Promise<{ perSlice: number[]; errors: number }> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const perSlice = Array.from({ length: Math.ceil(durationMs / sliceMs) }, () => 0);
  let errors = 0;
  const started = performance.now();
  const once = () =>
    new Promise<number>((resolve) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end();
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() - started < durationMs) {
        const status = await once();
        const slice = Math.floor((performance.now() - started) / sliceMs);
        if (status === 200 && slice < perSlice.length) perSlice[slice]! += 1;
        else if (status !== 200) errors += 1;
      }
    }),
  );
  agent.destroy();
  return { perSlice, errors };
}

const runner = await startBenchRunner(1000);
try {
  const url = await deploy(runner.client, sampleImageRef('express'), 'saturated', {
    min: 1,
    max: 1,
    concurrency: 1,
    reserveAfter: 3600,
  });
  const [instance] = await instances(runner.client, 'saturated');
  const direct = `${instance!.address.replace(':9000', ':3000')}/`;
  // The same one-at-a-time service, without the gateway: one looping client straight to the app.
  const baseline = await closedLoop(direct, 1, Math.min(seconds, 30) * 1000);
  const held = await closedLoop(url, clients, seconds * 1000);
  const rate = (count: number) => (count / (sliceMs / 1000)).toFixed(0);
  console.log(`saturation: max 1 instance, concurrency 1, ${clients} looping clients, ${seconds} s\n`);
  console.log('| path | answers/s per 10 s slice | errors |');
  console.log('| --- | --- | --- |');
  console.log(
    `| straight to the app, 1 client (baseline) | ${baseline.perSlice.map(rate).join(' ')} | ${baseline.errors} |`,
  );
  console.log(
    `| through the gateway, queuing in the activator | ${held.perSlice.map(rate).join(' ')} | ${held.errors} |`,
  );
  const first = held.perSlice[0]!;
  const last = held.perSlice.at(-1)!;
  console.log(`\nlast slice / first slice: **${(last / first).toFixed(2)}×** (flat is 1.00×)`);
} finally {
  await runner.stop();
}

/**
 * The adapter hop's cost: the same app in the same container, called directly on its port and through the
 * adapter on 9000, both on the container's bridge address, alternating rounds at a fixed request rate.
 * Also the adapter process's resident memory when idle.
 *
 *   npm run bench:adapter -- [--rates 200,1000] [--seconds 5] [--rounds 5] [--sample express]
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { sampleImageRef, type SampleName } from '../images/catalog.js';
import {
  defaultRuntimeCacheDir,
  ensureAdapterRuntime,
} from '../runner/src/adapter-runtime/adapter-runtime.js';
import { readAppImageConfig } from '../runner/src/adapter-runtime/image-config.js';
import { adapterContainer } from '../runner/src/adapter-runtime/mount-container.js';
import { createDocker, createEngine, dockerEndpointFromEnv } from '../engine/docker-endpoint.js';
import { managedLabels } from '../engine/labels.js';
import { execaProcessRunner } from '../host/process-runner.js';
import { fixedRateLoad, median, type LatencySummary } from './load.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '200,1000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    sample: { type: 'string', default: 'express' },
  },
});
const rates = values.rates.split(',').map(Number);
const durationMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const sample = values.sample as SampleName;
const appPort = { express: 3000, flask: 5000, jvm: 8080, scratch: 8000 }[sample];

const docker = createDocker(dockerEndpointFromEnv(process.env));
const engine = createEngine(dockerEndpointFromEnv(process.env));
const ref = sampleImageRef(sample);
const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner());
const container = docker.getContainer(
  await engine.create(
    adapterContainer({
      ref,
      image: await readAppImageConfig(engine, ref),
      runtime,
      labels: managedLabels('test', { 'pilotlight.bench': 'adapter-overhead' }),
    }),
  ),
);

try {
  await container.start();
  const ip = Object.values((await container.inspect()).NetworkSettings.Networks)[0]?.IPAddress;
  const direct = `http://${ip}:${appPort}/`;
  const viaAdapter = `http://${ip}:9000/`;
  await waitFor(`http://${ip}:9000/_/ready`);

  const idleRssMb = await adapterRssMb(container.id);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  await fixedRateLoad(direct, 500, 1000, agent); // warm both paths (JIT, pools)
  await fixedRateLoad(viaAdapter, 500, 1000, agent);

  const fmt = (ms: number) => ms.toFixed(3);
  const summary = (runs: LatencySummary[]) => ({
    p50: median(runs.map((run) => run.p50)),
    p99: median(runs.map((run) => run.p99)),
    requests: runs.reduce((sum, run) => sum + run.count, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  });
  console.log(
    `adapter overhead, ${sample} sample, ${rounds} alternating rounds of ${durationMs / 1000}s per path and rate`,
  );
  console.log('(medians of per-round percentiles; goal: p50 ≤ +0.300 ms, p99 ≤ +1.500 ms)');
  console.log(`| rate | path | p50 ms | p99 ms | requests | errors |`);
  console.log(`| --- | --- | --- | --- | --- | --- |`);
  for (const rate of rates) {
    const results: { direct: LatencySummary[]; adapter: LatencySummary[] } = { direct: [], adapter: [] };
    for (let round = 0; round < rounds; round++) {
      results.direct.push(await fixedRateLoad(direct, rate, durationMs, agent));
      results.adapter.push(await fixedRateLoad(viaAdapter, rate, durationMs, agent));
    }
    const d = summary(results.direct);
    const a = summary(results.adapter);
    console.log(
      `| ${rate}/s | direct to app | ${fmt(d.p50)} | ${fmt(d.p99)} | ${d.requests} | ${d.errors} |`,
    );
    console.log(
      `| ${rate}/s | through adapter | ${fmt(a.p50)} | ${fmt(a.p99)} | ${a.requests} | ${a.errors} |`,
    );
    console.log(
      `| ${rate}/s | **added by the hop** | **+${fmt(a.p50 - d.p50)}** | **+${fmt(a.p99 - d.p99)}** | | |`,
    );
  }
  // Idle means no client connections held open either: each kept-alive socket holds parser state and buffers.
  agent.destroy();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const afterLoadRssMb = await adapterRssMb(container.id);
  console.log(
    `adapter RSS: idle ${idleRssMb.toFixed(1)} MB, idle after the load ${afterLoadRssMb.toFixed(1)} MB (goal ≤ 60 MB)`,
  );
} finally {
  await container.remove({ force: true, v: true });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (
      (await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} never became ready`);
}

/** The adapter's resident set, read from /proc on the host through the PID the engine reports. */
async function adapterRssMb(id: string): Promise<number> {
  const top = await docker.getContainer(id).top({ ps_args: '-eo pid,args' });
  const row = top.Processes.find((row: string[]) => row[1]?.startsWith('/opt/pilotlight/lib/ld-linux'));
  if (!row) throw new Error('adapter process not found in the container');
  const status = readFileSync(`/proc/${row[0]}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

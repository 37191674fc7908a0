/**
 * The runner's numbers beside their baselines, in one run (express sample, medians of several runs):
 *   1. cold start through the runner (scaled to zero → first 200 through the edge) vs the bare floor
 *      (create + start through the Engine API, poll the app until its first 200), same image and spec;
 *   2. the first request to a reserved (and to a frozen) instance vs a request to a warm one;
 *   3. a warm request through the edge (HAProxy, straight to the app) vs straight to the app vs Debian's nginx
 *      proxying to the same app: latency at a fixed rate, and throughput with wrk;
 *   4. the concurrency limit under a burst of 10× the limit: the most requests the app ever held at once.
 *
 *   npm run bench:runner -- [--runs 7] [--samples 20] [--seconds 5] [--only cold,wake,warm,limit]
 *                           [--edge-busy-polling]   (the runner's edge busy-polls; no bare-HAProxy row then)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { sampleImageRef } from '../images/catalog.js';
import type { ControlClient } from '../runner/src/cli/control-client.js';
import { createDocker, dockerEndpointFromEnv } from '../engine/docker-endpoint.js';
import { readHostFacts } from '../host/host-facts.js';
import { managedLabels } from '../engine/labels.js';
import { edgeThreads } from '../runner/src/edge/edge-config.js';
import { ensureCommands } from '../host/install-debian-packages.js';
import { execaProcessRunner } from '../host/process-runner.js';
import { fixedRateLoad, median } from './load.js';
import { deploy, firstOk, floorRun, instances, sleep, startBenchRunner, waitFor } from './runner-harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    samples: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '5' },
    only: { type: 'string', default: 'cold,wake,warm,limit' },
    'edge-busy-polling': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const samples = Number(values.samples);
const seconds = Number(values.seconds);
const image = sampleImageRef('express');
const spec = { cpus: 1, memory: 512 * 1024 ** 2 };
const docker = createDocker(dockerEndpointFromEnv(process.env));
const processes = execaProcessRunner();
const fmt = (ms: number) => ms.toFixed(1);

await ensureCommands(
  [
    { command: 'nginx', debianPackage: 'nginx', purpose: 'the proxy baseline' },
    { command: 'wrk', debianPackage: 'wrk', purpose: 'to measure throughput' },
  ],
  readHostFacts(),
  processes,
  (line) => console.error(line),
);

const busyPolling = values['edge-busy-polling'];
const runner = await startBenchRunner(100, { edgeBusyPolling: busyPolling });

try {
  const client = runner.client;
  console.log(
    `runner benchmarks: ${image}, active spec 1 CPU / 512 MiB, ${runs} cold starts, ${samples} wake samples` +
      `${busyPolling ? ', edge busy-polling' : ''}\n`,
  );
  const sections = { cold: coldStart, wake: wakeLatency, warm: warmPath, limit: concurrencyLimit };
  for (const name of values.only.split(',')) {
    const section = sections[name as keyof typeof sections];
    if (!section) throw new Error(`--only ${name}: not a section (${Object.keys(sections).join(', ')})`);
    await section(client);
  }
} finally {
  await runner.stop();
}

async function coldStart(client: ControlClient): Promise<void> {
  const url = await deploy(client, image, 'cold', {
    min: 0,
    zeroAfter: 0.2,
    reserveAfter: 600,
    stableWindow: 1,
    scaleDownDelay: 0,
  });
  // Every function has a bridge network of its own (isolation), and Docker takes longer to start a container on
  // a user-defined bridge than on its default one (its embedded DNS is set up in each container): both floors.
  const network = `pilotlight-bench-floor-${process.pid}`;
  await docker.createNetwork({
    Name: network,
    Driver: 'bridge',
    Labels: managedLabels('test', { 'pilotlight.bench': 'floor' }),
    Options: { 'com.docker.network.bridge.enable_icc': 'false' },
  });
  // Floor and runner runs alternate, so drift in the machine's speed falls on both alike.
  const floor: number[] = [];
  const floorOnNetwork: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Scaled to zero and the last container gone from the engine, as before each floor run.
    await waitFor(
      'scale to zero',
      async () =>
        (await instances(client, 'cold')).length === 0 &&
        (await docker.listContainers({ all: true, filters: { label: ['pilotlight.function=cold'] } }))
          .length === 0,
    );
    floor.push(await floorRun(docker, image, spec.memory, 3000));
    floorOnNetwork.push(await floorRun(docker, image, spec.memory, 3000, network));
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`cold request answered ${response.status}`);
    cold.push(performance.now() - started);
  }
  await client.call('DELETE', '/v1/functions/cold');
  await docker.getNetwork(network).remove();
  const row = (label: string, values: number[], vsRunner: boolean) =>
    console.log(
      `| ${label} | ${fmt(median(values))} | ${vsRunner ? `**${(median(cold) / median(values)).toFixed(2)}×**` : ''} | ${values.map(fmt).join(' ')} |`,
    );
  console.log('1. cold start (median of runs)');
  console.log('| path | median ms | runner ÷ this | runs |');
  console.log('| --- | --- | --- | --- |');
  row('bare floor: Engine API create + start, poll the app (default bridge)', floor, true);
  row('bare floor on a user-defined bridge, as every function has', floorOnNetwork, true);
  row('through the runner: edge, activator, adapter', cold, false);
  console.log('(goal: runner ≤ 1.15× the floor)\n');
}

async function wakeLatency(client: ControlClient): Promise<void> {
  const results: Record<string, number[]> = { warm: [], reserved: [], frozen: [] };
  for (const [state, extra] of [
    ['reserved', { reserveAfter: 0.2, freezeAfter: 3600 }],
    ['frozen', { reserveAfter: 0.2, freezeAfter: 0.2 }],
  ] as const) {
    const name = `wake-${state}`;
    const url = await deploy(client, image, name, extra);
    await fetch(url).then((response) => response.arrayBuffer());
    for (let i = 0; i < samples; i++) {
      await waitFor(state, async () => (await instances(client, name))[0]?.state === state);
      results[state]!.push(await timed(url));
      if (state === 'reserved') results['warm']!.push(await timed(url));
    }
    await client.call('DELETE', `/v1/functions/${name}`);
  }
  const p95 = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))]!;
  console.log(`2. first request after idle vs a warm request (${samples} samples each)`);
  console.log('| instance was | p50 ms | p95 ms | p95 added over warm |');
  console.log('| --- | --- | --- | --- |');
  for (const state of ['warm', 'reserved', 'frozen']) {
    const list = results[state]!;
    const added = p95(list) - p95(results['warm']!);
    const goal = state === 'reserved' ? ' (goal ≤ +25 ms)' : '';
    console.log(
      `| ${state} | ${fmt(median(list))} | ${fmt(p95(list))} | ${state === 'warm' ? '' : `**+${fmt(added)}**${goal}`} |`,
    );
  }
  console.log('');
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return performance.now() - started;
}

async function warmPath(client: ControlClient): Promise<void> {
  // All the host's CPUs for the app's container, as nginx's own work is not limited either; the adapter's
  // work is charged to that container.
  const url = await deploy(client, image, 'warm', {
    reserveAfter: 3600,
    concurrency: 100,
    max: 1,
    cpus: '64',
  });
  const [instance] = await instances(client, 'warm');
  const ip = new URL(instance!.address).hostname;
  const direct = `http://${ip}:3000/`;
  const nginx = await startNginx(ip);
  // With busy-polling the edge keeps a CPU busy for the whole run; a second spinning HAProxy would take the other.
  const bareHaproxy = busyPolling ? undefined : await startBareHaproxy(ip);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const paths = {
      'straight to the app': direct,
      'nginx → app': nginx.url,
      ...(bareHaproxy ? { 'HAProxy with no rules → app': bareHaproxy.url } : {}),
      'edge (HAProxy) → app': url,
    };
    for (const target of Object.values(paths)) await fixedRateLoad(target, 500, 1000, agent);
    const latency: Record<string, number[]> = {};
    for (let round = 0; round < 3; round++) {
      for (const [label, target] of Object.entries(paths)) {
        (latency[label] ??= []).push((await fixedRateLoad(target, 500, seconds * 1000, agent)).p50);
      }
    }
    const throughput: Record<string, number[]> = {};
    for (let round = 0; round < 3; round++) {
      for (const [label, target] of Object.entries(paths)) (throughput[label] ??= []).push(await wrk(target));
    }
    agent.destroy();
    const directP50 = median(latency['straight to the app']!);
    const nginxRps = median(throughput['nginx → app']!);
    console.log(
      `3. warm requests (p50 at 500 req/s, median of 3 rounds of ${seconds}s; throughput: wrk, 2 threads, 32 connections)`,
    );
    console.log('| path | p50 ms | added over direct | requests/s | vs nginx |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const label of Object.keys(paths)) {
      const p50 = median(latency[label]!);
      const rps = median(throughput[label]!);
      console.log(
        `| ${label} | ${p50.toFixed(3)} | ${label === 'straight to the app' ? '' : `+${(p50 - directP50).toFixed(3)}`} | ${rps.toFixed(0)} | ${(rps / nginxRps).toFixed(2)}× |`,
      );
    }
    console.log('(goals: edge p50 ≤ +0.1 ms over direct; edge throughput ≥ 0.9× nginx)');
  } finally {
    nginx.stop();
    bareHaproxy?.stop();
    await client.call('DELETE', '/v1/functions/warm');
  }
}

/** A burst of 10× the limit at a function with concurrency 2 and one instance: the app's own peak count. */
async function concurrencyLimit(client: ControlClient): Promise<void> {
  const limit = 2;
  const url = await deploy(client, image, 'limit', { concurrency: limit, max: 1, reserveAfter: 3600 });
  try {
    const peaks: number[] = [];
    for (let round = 0; round < 5; round++) {
      await fetch(`${url}peak`, { method: 'POST' }).then((response) => response.arrayBuffer());
      const statuses = await Promise.all(
        Array.from({ length: limit * 10 }, () =>
          fetch(`${url}slow?ms=100`).then((response) => response.status),
        ),
      );
      if (statuses.some((status) => status !== 200)) throw new Error(`the burst got ${statuses.join(' ')}`);
      peaks.push(((await (await fetch(`${url}peak`)).json()) as { peak: number }).peak);
    }
    console.log(`\n4. concurrency limit ${limit}, bursts of ${limit * 10} requests, all answered 200`);
    console.log(
      `| most requests in the app at once, per burst | ${peaks.join(' ')} | (goal: ${limit}, exactly) |`,
    );
  } finally {
    await client.call('DELETE', '/v1/functions/limit');
  }
}

interface Baseline {
  url: string;
  stop: () => void;
}

async function startNginx(ip: string): Promise<Baseline> {
  return startBaseline('nginx', (dir, port) => ({
    file: 'nginx.conf',
    config: `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream app { server ${ip}:3000; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
    args: (config) => ['-c', config, '-g', 'daemon off;'],
    stopSignal: 'SIGQUIT',
  }));
}

/** HAProxy with no rules at all, threads as the edge has them: what HAProxy itself adds, without the edge's rules. */
async function startBareHaproxy(ip: string): Promise<Baseline> {
  return startBaseline('haproxy', (_dir, port) => ({
    file: 'haproxy.cfg',
    config: `global
  nbthread ${edgeThreads(availableParallelism())}
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend bare
  bind 127.0.0.1:${port}
  default_backend app
backend app
  server app ${ip}:3000
`,
    args: (config) => ['-f', config, '-db'],
    stopSignal: 'SIGUSR1',
  }));
}

async function startBaseline(
  command: string,
  render: (
    dir: string,
    port: number,
  ) => { file: string; config: string; args: (config: string) => string[]; stopSignal: NodeJS.Signals },
): Promise<Baseline> {
  const dir = await mkdtemp(join(tmpdir(), `pilotlight-${command}-`));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const { file, config, args, stopSignal } = render(dir, port);
  await writeFile(join(dir, file), config);
  const child = spawn(command, args(join(dir, file)), { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  await firstOk(url);
  return {
    url,
    stop: () => {
      child.kill(stopSignal);
      void rm(dir, { recursive: true, force: true });
    },
  };
}

async function wrk(url: string): Promise<number> {
  const result = await processes.run('wrk', ['-t2', '-c32', `-d${seconds}s`, url]);
  const match = /Requests\/sec:\s+([\d.]+)/.exec(result.output);
  if (!match) throw new Error(`wrk gave no rate:\n${result.output}`);
  if (/Non-2xx or 3xx responses/.test(result.output))
    throw new Error(`wrk saw errors for ${url}:\n${result.output}`);
  return Number(match[1]);
}

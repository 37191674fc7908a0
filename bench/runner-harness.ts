/** What the runner benchmarks share: a runner in this process, deploys, and the bare cold-start floor. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { ControlClient } from '../runner/src/cli/control-client.js';
import { runUp } from '../runner/src/commands/up-command.js';
import { readRunnerInfo } from '../runner/src/control/runner-files.js';
import { managedLabels } from '../engine/labels.js';

export interface BenchRunner {
  client: ControlClient;
  stop(): Promise<void>;
}

/** `runner up` in this process, on free ports and its own data directory. */
export async function startBenchRunner(
  tickMs: number,
  options: { edgeBusyPolling?: boolean } = {},
): Promise<BenchRunner> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pilotlight-bench-'));
  let stopRunner!: () => void;
  const runner = runUp({
    env: process.env,
    dataDir,
    host: '127.0.0.1',
    gatewayPort: 0,
    controlPort: 0,
    keepInstances: false,
    edgeBusyPolling: options.edgeBusyPolling ?? false,
    tickMs,
    log: (line) => process.env['BENCH_DEBUG'] && console.error(line),
    stopSignal: new Promise<void>((resolve) => (stopRunner = resolve)),
  });
  return {
    client: await connect(dataDir),
    stop: async () => {
      stopRunner();
      await runner;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function connect(dir: string): Promise<ControlClient> {
  for (let i = 0; i < 600; i++) {
    try {
      readRunnerInfo(dir);
      return new ControlClient(dir);
    } catch {
      await sleep(50);
    }
  }
  throw new Error('runner did not start');
}

/** Deploys IMAGE as NAME at 1 CPU / 512 MiB (reserved 0.05 / 128 MiB) plus `extra`; returns its URL. */
export async function deploy(
  client: ControlClient,
  image: string,
  name: string,
  extra: Record<string, unknown>,
): Promise<string> {
  const response = await client.call('POST', '/v1/functions', {
    image,
    name,
    cpus: '1',
    memory: '512m',
    reservedCpus: '0.05',
    reservedMemory: '128m',
    ...extra,
  });
  for await (const line of client.lines(response)) {
    if (line['event'] === 'error') throw new Error(String(line['message']));
    if (line['event'] === 'done') return String(line['url']);
  }
  throw new Error('deploy gave no answer');
}

export async function instances(
  client: ControlClient,
  name: string,
): Promise<Array<{ name: string; state: string; address: string }>> {
  const fns = await client.json<
    Array<{ name: string; instances: Array<{ name: string; state: string; address: string }> }>
  >('GET', '/v1/functions');
  return fns.find((fn) => fn.name === name)?.instances ?? [];
}

export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Polls URL until it answers 200; the time that took. */
export async function firstOk(url: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      async (response) => (await response.arrayBuffer(), response.status),
      () => 0,
    );
    if (status === 200) return performance.now() - started;
    await sleep(5);
  }
}

/** The app's own cold start: create + start through the Engine API, then poll the app until its first 200. */
/** Create + start through the Engine API, then poll the app until its first 200: on `network`, or on the default bridge. */
export async function floorRun(
  docker: Docker,
  image: string,
  memory: number,
  port: number,
  network?: string,
): Promise<number> {
  const started = performance.now();
  const container = await docker.createContainer({
    Image: image,
    // As `docker run` would: no CPU limit while the app starts (the runner boosts start-up the same way).
    Labels: managedLabels('test', { 'pilotlight.bench': 'floor' }),
    HostConfig: { Memory: memory, MemorySwap: memory, ...(network ? { NetworkMode: network } : {}) },
  });
  await container.start();
  const ip = Object.values((await container.inspect()).NetworkSettings.Networks)[0]!.IPAddress;
  await firstOk(`http://${ip}:${port}/`);
  const elapsed = performance.now() - started;
  await container.remove({ force: true });
  return elapsed;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

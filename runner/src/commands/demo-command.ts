import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleImageRef } from '../../../images/catalog.js';
import { ControlClient } from '../cli/control-client.js';
import { readRunnerInfo } from '../control/runner-files.js';
import { formatBytes } from '../instances/resource-spec.js';
import { runDeploy, runList } from './function-commands.js';
import { runUp } from './up-command.js';

interface ListedInstance {
  name: string;
  state: string;
  cpus: number;
  memory: number;
}

/**
 * The main job end to end: a runner with its own data folder, an unchanged Express monolith deployed as a
 * function, called, left idle until it is shrunk in place to its pilot light, then woken by a request.
 */
export async function runDemo(options: {
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}): Promise<void> {
  const { log } = options;
  const dataDir = await mkdtemp(join(tmpdir(), 'pilotlight-demo-'));
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const runner = runUp({
    env: options.env,
    dataDir,
    host: '127.0.0.1',
    gatewayPort: 0,
    controlPort: 0,
    keepInstances: false,
    tickMs: 250,
    log: (line) => log(`  runner | ${line}`),
    stopSignal: stopped,
  });
  try {
    await waitForRunner(dataDir, runner);
    const output = {
      json: false,
      out: (text: string) =>
        log(
          text
            .trimEnd()
            .split('\n')
            .map((line) => `  ${line}`.trimEnd())
            .join('\n'),
        ),
      log: (line: string) => log(`  ${line}`),
    };

    log('\n1. deploy the unchanged Express sample as the function "shop" (idle grace: 3 s)');
    await runDeploy(
      dataDir,
      {
        image: sampleImageRef('express'),
        name: 'shop',
        reserveAfter: 3,
        freezeAfter: 3600,
      },
      output,
    );
    const client = new ControlClient(dataDir);
    const url = `${client.gateway}/fn/shop/`;

    log(`\n2. call it: GET ${url}`);
    log(`  ${await timedGet(url)}`);
    await runList(dataDir, output);

    log('\n3. leave it idle: the last instance is shrunk in place to its reserved spec (no restart)');
    const reserved = await waitForState(client, 'reserved', 30_000);
    log(`  ${reserved.name} is now ${reserved.state}: ${reserved.cpus} CPU, ${formatBytes(reserved.memory)}`);

    log('\n4. call it again: the request resizes it back to full spec before it is served');
    log(`  ${await timedGet(url)}`);
    const awake = await waitForState(client, 'active', 5_000);
    log(`  ${awake.name} is ${awake.state} again: ${awake.cpus} CPU, ${formatBytes(awake.memory)}`);
    const events = await client.json<Array<{ action: string; detail: Record<string, unknown> }>>(
      'GET',
      '/v1/functions/shop/events',
    );
    const wake = events.reverse().find((event) => event.action === 'wake');
    if (wake)
      log(
        `  the resize took ${String(wake.detail['ms'])} ms (a cold start of the same app takes several hundred)`,
      );
    log('\ndone: the runner drains and removes what it started');
  } finally {
    stop();
    await runner;
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function waitForRunner(dataDir: string, runner: Promise<void>): Promise<void> {
  let failed: unknown;
  runner.catch((error: unknown) => (failed = error));
  for (let i = 0; i < 600; i++) {
    if (failed) throw failed;
    try {
      readRunnerInfo(dataDir);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error('the runner did not start within 30 s');
}

async function timedGet(url: string): Promise<string> {
  const started = performance.now();
  const response = await fetch(url);
  const body = (await response.text()).trim();
  return `${response.status} "${body}" in ${(performance.now() - started).toFixed(1)} ms`;
}

async function waitForState(
  client: ControlClient,
  state: string,
  timeoutMs: number,
): Promise<ListedInstance> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const functions = await client.json<Array<{ name: string; instances: ListedInstance[] }>>(
      'GET',
      '/v1/functions',
    );
    const instance = functions
      .find((fn) => fn.name === 'shop')
      ?.instances.find((item) => item.state === state);
    if (instance) return instance;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no instance of shop became ${state} within ${timeoutMs / 1000} s`);
}

/**
 * A fuzz run against the edge and an adapter (issue 12): malformed request lines, header names and values,
 * chunked encodings, smuggling-shaped framing, huge and empty fields, invalid UTF-8, random bytes, and events
 * of the wrong shape, each on a connection of its own, many at once. It passes with 0 crashes (the runner, the
 * edge's processes, the instance's container), every answer well-formed, the service still answering, and
 * the memory of the edge and the instance back within 1.5 × + 20 MB of where it rested after a warm-up.
 *
 *   npm run bench:fuzz -- [--requests 100000] [--seed N] [--concurrency 64] [--case I]
 *
 * `--case I` sends case I of the seed alone and prints it with its answer.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sampleImageRef } from '../images/catalog.js';
import { createDocker, dockerEndpointFromEnv } from '../engine/docker-endpoint.js';
import type { ControlClient } from '../runner/src/cli/control-client.js';
import { quote } from './fuzz/answers.js';
import { fuzzCase } from './fuzz/cases.js';
import { exchange } from './fuzz/exchange.js';
import {
  containerMemory,
  crashesBetween,
  edgeRss,
  megabytes,
  observeLiveness,
  quietMemory,
  settledMemory,
} from './fuzz/health.js';
import { problemOf, runFuzz, type FuzzTally, type FuzzTargets } from './fuzz/run.js';
import { adapterErrors, serviceProblems } from './fuzz/service.js';
import { deploy, startBenchRunner, type BenchRunner } from './runner-harness.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    concurrency: { type: 'string', default: '64' },
    case: { type: 'string' },
  },
});
const seed = Number(values.seed);
const FN = 'fuzz';
/** Enough for the heaps and pools of the edge and the instance to reach their working size. */
const WARM_UP_CASES = 10_000;
/** The start is the lowest reading over this long once the warm-up is over. */
const QUIET_MS = 10_000;
const SETTLE_TIMEOUT_MS = 90_000;

const docker = createDocker(dockerEndpointFromEnv(process.env));
const runnerCrashes = watchRunnerCrashes();
const { runner, dataDir, cleanUp } = await startRunnerWithDataDir();
let failed = true;
try {
  const subject = await deployFunction(runner.client);
  failed =
    values.case === undefined
      ? await fuzzRun(subject, Number(values.requests), Number(values.concurrency))
      : await replayCase(subject, Number(values.case));
} finally {
  progress('stopping the runner');
  await runner.stop();
  await cleanUp();
}
process.exit(failed ? 1 : 0);

function progress(what: string): void {
  console.error(`  ${new Date().toISOString().slice(11, 19)} ${what}`);
}

/**
 * The runner runs in this process: an exception nothing caught (which would stop `runner up`) is counted as
 * a crash of the runner, and the run goes on so that it counts them all.
 */
function watchRunnerCrashes(): string[] {
  const crashes: string[] = [];
  const note = (error: unknown) => {
    crashes.push((error as Error).stack ?? String(error));
    if (crashes.length <= 3) console.error(`runner crash: ${(error as Error).stack ?? String(error)}`);
  };
  process.on('uncaughtException', note);
  process.on('unhandledRejection', note);
  return crashes;
}

/** startBenchRunner makes its data directory in tmpdir(): under a fresh TMPDIR it is the only entry. */
async function startRunnerWithDataDir(): Promise<{
  runner: BenchRunner;
  dataDir: string;
  cleanUp: () => Promise<void>;
}> {
  const outer = process.env['TMPDIR'];
  const root = await mkdtemp(join(tmpdir(), 'pilotlight-fuzz-'));
  process.env['TMPDIR'] = root;
  try {
    const runner = await startBenchRunner(250);
    const [dir] = await readdir(root);
    return { runner, dataDir: join(root, dir!), cleanUp: () => rm(root, { recursive: true, force: true }) };
  } finally {
    if (outer === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = outer;
  }
}

interface Subject extends FuzzTargets {
  client: ControlClient;
  gateway: string;
  containerId: string;
}

/** The express sample as one instance that stays active and is never scaled out or in during the run. */
async function deployFunction(client: ControlClient): Promise<Subject> {
  const url = await deploy(client, sampleImageRef('express'), FN, {
    min: 1,
    max: 1,
    concurrency: 100,
    reserveAfter: 3600,
  });
  const fns = await client.json<Array<{ name: string; instances: Array<{ id: string; address: string }> }>>(
    'GET',
    '/v1/functions',
  );
  const instance = fns.find((fn) => fn.name === FN)!.instances[0]!;
  const adapter = new URL(instance.address);
  const gateway = new URL(url).origin;
  return {
    client,
    gateway,
    containerId: instance.id,
    fn: FN,
    edge: { host: new URL(gateway).hostname, port: Number(new URL(gateway).port) },
    adapter: { host: adapter.hostname, port: Number(adapter.port) },
  };
}

async function fuzzRun(subject: Subject, count: number, concurrency: number): Promise<boolean> {
  console.log(`fuzz run: ${count} requests, seed ${seed}, ${concurrency} connections at once`);
  progress(`warm-up: ${WARM_UP_CASES} cases of seed ${seed + 1}`);
  await runFuzz(subject, { seed: seed + 1, count: WARM_UP_CASES, concurrency });
  const before = await observeLiveness(dataDir, docker, subject.containerId);
  progress('reading memory at rest');
  const memoryBefore = {
    edge: await quietMemory(async () => edgeRss(before.edgeMaster), QUIET_MS),
    instance: await quietMemory(() => containerMemory(docker, subject.containerId), QUIET_MS),
  };
  const tally = await runFuzz(subject, {
    seed,
    count,
    concurrency,
    onProgress: (done) => done % 10_000 === 0 && progress(`${done}/${count}`),
  });
  const after = await observeLiveness(dataDir, docker, subject.containerId);
  const crashes = [...crashesBetween(before, after), ...summarizeRunnerCrashes(runnerCrashes)];
  progress('checking the service and waiting for memory to settle');
  const service = await serviceProblems(subject, instancesOf(subject.client));
  const edgeEnd = await settledMemory(
    memoryBefore.edge,
    async () => edgeRss(after.edgeMaster),
    SETTLE_TIMEOUT_MS,
  );
  const instanceEnd = await settledMemory(
    memoryBefore.instance,
    () => containerMemory(docker, subject.containerId),
    SETTLE_TIMEOUT_MS,
  );
  console.log(
    `adapter error answers by code (its /_/stats, warm-up included): ${JSON.stringify(await adapterErrors(subject.adapter))}`,
  );
  printSummary(tally, crashes, service, [
    ['edge (HAProxy RSS)', memoryBefore.edge, edgeEnd],
    ['instance (container)', memoryBefore.instance, instanceEnd],
  ]);
  const malformed = tally.targets.edge.malformed + tally.targets.adapter.malformed;
  const stalled = tally.targets.edge.stalled + tally.targets.adapter.stalled;
  const refused = tally.targets.edge.refused + tally.targets.adapter.refused;
  return (
    malformed + stalled + refused + crashes.length + service.length > 0 ||
    !edgeEnd.settled ||
    !instanceEnd.settled
  );
}

/** Uncaught exceptions in the runner, counted by their first line. */
function summarizeRunnerCrashes(stacks: string[]): string[] {
  const counts = new Map<string, number>();
  for (const stack of stacks) {
    const where = stack.split('\n').slice(0, 3).join(' ').replace(/\s+/g, ' ');
    counts.set(where, (counts.get(where) ?? 0) + 1);
  }
  return [...counts].map(
    ([where, count]) => `the runner threw ${count}× (uncaught, warm-up included): ${where}`,
  );
}

function instancesOf(client: ControlClient): () => Promise<Array<{ id: string; deaths: number }>> {
  return async () => {
    const fns = await client.json<Array<{ name: string; deaths: number; instances: Array<{ id: string }> }>>(
      'GET',
      '/v1/functions',
    );
    const fn = fns.find((each) => each.name === FN);
    return (fn?.instances ?? []).map((instance) => ({ id: instance.id, deaths: fn!.deaths }));
  };
}

async function replayCase(subject: Subject, index: number): Promise<boolean> {
  const fuzz = fuzzCase(seed, index, FN);
  const to = subject[fuzz.target];
  const result = await exchange(to, fuzz.bytes, { complete: fuzz.complete, head: fuzz.head });
  console.log(`seed ${seed} case ${index}: ${fuzz.family} to the ${fuzz.target} (${to.host}:${to.port})`);
  console.log(`request (${fuzz.bytes.length} bytes): ${quote(fuzz.bytes.toString('latin1'), 2000)}`);
  console.log(
    `answer (${result.data.length} bytes, ${result.end}${result.error ? `, ${result.error}` : ''}):`,
  );
  console.log(`  ${quote(result.data.toString('latin1'), 2000)}`);
  const problem = problemOf(result);
  console.log(problem ? `problem: ${problem.kind}: ${problem.detail}` : 'well-formed');
  return problem !== undefined;
}

function printSummary(
  tally: FuzzTally,
  crashes: string[],
  service: string[],
  memory: Array<[string, number, { bytes: number; settled: boolean }]>,
): void {
  const { edge, adapter } = tally.targets;
  const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  const rows: Array<[string, number, number]> = [
    ['requests', edge.requests, adapter.requests],
    ...classes.map((group): [string, number, number] => [
      `answers ${group}`,
      edge.statuses[group] ?? 0,
      adapter.statuses[group] ?? 0,
    ]),
    ['closed without an answer', edge.closedUnanswered, adapter.closedUnanswered],
    ['  of them well-framed', edge.wellFramedUnanswered, adapter.wellFramedUnanswered],
    ['malformed answers', edge.malformed, adapter.malformed],
    ['stalled connections', edge.stalled, adapter.stalled],
    ['refused connections', edge.refused, adapter.refused],
  ];
  console.log(
    `\n${'target'.padEnd(28)}${'edge'.padStart(10)}${'adapter'.padStart(10)}${'total'.padStart(10)}`,
  );
  for (const [name, a, b] of rows) {
    console.log(
      `${name.padEnd(28)}${String(a).padStart(10)}${String(b).padStart(10)}${String(a + b).padStart(10)}`,
    );
  }
  const total = edge.requests + adapter.requests;
  console.log(
    `\nduration: ${(tally.durationMs / 1000).toFixed(1)} s (${Math.round(total / (tally.durationMs / 1000))} requests/s)`,
  );
  console.log(`crashes: ${crashes.length}${crashes.map((crash) => `\n  ${crash}`).join('')}`);
  console.log(`service after the run: ${service.length === 0 ? 'answers' : service.join('; ')}`);
  for (const [what, start, end] of memory) {
    const verdict = end.settled ? 'back within bound' : 'NOT back within bound';
    console.log(`memory ${what}: ${megabytes(start)} → ${megabytes(end.bytes)} (${verdict})`);
  }
  for (const example of [...tally.examples, ...tally.unanswered]) {
    console.log(
      `\n${example.why} — seed ${example.seed} case ${example.index}, ${example.family} to the ${example.target}`,
    );
    console.log(`  request: ${example.request}\n  answer:  ${example.answer}`);
  }
}

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { crashesBetween, observeLiveness } from '../../bench/fuzz/health.js';
import { runFuzz, type FuzzTargets } from '../../bench/fuzz/run.js';
import { serviceProblems, type ListedInstance, type ServedFunction } from '../../bench/fuzz/service.js';
import { instancesOf, startRunner, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();
const FN = 'fuzz';
/** A fixed seed: a failure here is replayed with `npm run bench:fuzz -- --seed 12 --case I`. */
const SEED = 12;
const CASES = 2500;

/** What `runner ls --json` says of the function's instances. */
async function listedInstances(runner: RunnerProcess): Promise<ListedInstance[]> {
  const result = await runner.cli(['ls', '--json']);
  const fns = JSON.parse(result.stdout) as Array<{
    name: string;
    deaths: number;
    instances: Array<{ id: string }>;
  }>;
  const fn = fns.find((each) => each.name === FN);
  return (fn?.instances ?? []).map((instance) => ({ id: instance.id, deaths: fn!.deaths }));
}

describe('a fuzz run against the edge and an adapter (the short version of npm run bench:fuzz)', () => {
  let runner: RunnerProcess;
  let subject: FuzzTargets & ServedFunction;

  beforeAll(async () => {
    runner = await startRunner(docker);
    const deployed = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      FN,
      '--min',
      '1',
      '--max',
      '1',
      '--concurrency',
      '100',
      '--reserve-after',
      '3600',
    ]);
    if (deployed.exitCode !== 0) throw new Error(`deploy failed:\n${deployed.all}`);
    const [container] = await instancesOf(docker, runner.runnerId, FN);
    const ip = Object.values(container!.NetworkSettings.Networks)[0]!.IPAddress;
    const gateway = new URL(runner.gateway);
    subject = {
      fn: FN,
      gateway: runner.gateway,
      containerId: container!.Id,
      edge: { host: gateway.hostname, port: Number(gateway.port) },
      adapter: { host: ip, port: 9000 },
    };
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
  }, 60_000);

  test(`${CASES} malformed requests and events: no crash, every answer well-formed, the function still answers`, async () => {
    const before = await observeLiveness(runner.dataDir, docker, subject.containerId);
    const tally = await runFuzz(subject, { seed: SEED, count: CASES, concurrency: 48 });
    const exitCode = runner.process.exitCode;
    expect(exitCode === null ? 'running' : `exited ${exitCode}:\n${runner.output().slice(-2000)}`).toBe(
      'running',
    );

    expect(tally.examples).toEqual([]);
    const { edge, adapter } = tally.targets;
    expect(edge.requests + adapter.requests).toBe(CASES);
    expect(edge.requests).toBeGreaterThan(CASES / 3);
    expect(adapter.requests).toBeGreaterThan(CASES / 3);
    // The run provoked both refusals and answers from the app, at both targets.
    for (const counts of [edge, adapter]) {
      expect(counts.statuses['2xx']).toBeGreaterThan(0);
      expect(counts.statuses['4xx']).toBeGreaterThan(0);
    }

    const after = await observeLiveness(runner.dataDir, docker, subject.containerId);
    expect(crashesBetween(before, after)).toEqual([]);
    expect(await serviceProblems(subject, () => listedInstances(runner))).toEqual([]);
  }, 120_000);
});

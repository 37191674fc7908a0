import { afterEach, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProber, type ProbeResult } from '../../bench/load.js';
import { procStat } from '../../common/proc-stat.js';
import { sampleImageRef } from '../../images/catalog.js';
import { startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();

/** The edge master's pid from its pid file; undefined while a starting edge has not written it yet. */
function masterPid(runner: RunnerProcess): number | undefined {
  try {
    return Number(
      readFileSync(join(runner.dataDir, 'edge', 'haproxy.pid'), 'utf8')
        .trim()
        .split('\n')[0],
    );
  } catch {
    return undefined;
  }
}

async function deploy(runner: RunnerProcess, fn: string, flags: string[] = []): Promise<void> {
  const result = await runner.cli(['deploy', sampleImageRef('express'), '--name', fn, ...flags]);
  if (result.exitCode !== 0) throw new Error(`deploy of ${fn} failed:\n${result.all}`);
}

/** Kills the edge's master with -9 under a prober; returns the probes and the kill's time. */
async function killMasterUnderLoad(
  runner: RunnerProcess,
  fn: string,
): Promise<{ results: ProbeResult[]; killedAt: number; master: number }> {
  const prober = startProber(`${runner.gateway}/fn/${fn}/`, 20);
  try {
    await until('probes answered', async () =>
      prober.results.filter((probe) => probe.status === 200).length >= 10 ? true : undefined,
    );
    const master = masterPid(runner)!;
    const killedAt = performance.now();
    process.kill(master, 'SIGKILL');
    await until(
      'a new edge master',
      async () => (masterPid(runner) ?? master) !== master || undefined,
      10_000,
    );
    const restartedAt = performance.now();
    await until('probes answered by the new edge', async () =>
      prober.results.filter((probe) => probe.sentAt > restartedAt && probe.status === 200).length >= 20
        ? true
        : undefined,
    );
    return { results: await prober.stop(), killedAt, master };
  } finally {
    await prober.stop();
  }
}

describe('the edge is killed with -9 under load', () => {
  let runner: RunnerProcess | undefined;

  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
  });

  test('the runner starts it again within about a second, and every instance is routed as before', async () => {
    runner = await startRunner(docker);
    await deploy(runner, 'survivor', ['--min', '2', '--reserve-after', '600']);
    const { results, killedAt } = await killMasterUnderLoad(runner, 'survivor');

    const failed = results.filter((probe) => probe.status !== 200);
    // Only while no edge listens (refused), and what the killed worker held (cut): none answered wrongly.
    expect(failed.filter((probe) => !['ECONNREFUSED', 'ECONNRESET'].includes(probe.error ?? ''))).toEqual([]);
    const lastFailure = Math.max(killedAt, ...failed.map((probe) => probe.sentAt));
    expect(lastFailure - killedAt).toBeLessThan(1500);
    expect(runner.output()).toContain('edge started again');
    // Both instances take requests at the new edge, and a function deployed now is routed too.
    await deploy(runner, 'newcomer', ['--reserve-after', '600']);
    expect((await fetch(`${runner.gateway}/fn/newcomer/`)).status).toBe(200);
  }, 90_000);

  test('when the runner is the master’s reaper (a container’s pid 1, a subreaper), the killed master stays a zombie and is replaced all the same', async () => {
    runner = await startRunner(docker, { asSubreaper: true });
    await deploy(runner, 'reaped', ['--reserve-after', '600']);
    const { results, killedAt, master } = await killMasterUnderLoad(runner, 'reaped');

    expect(procStat(master)?.[0]).toBe('Z');
    const failed = results.filter((probe) => probe.status !== 200);
    const lastFailure = Math.max(killedAt, ...failed.map((probe) => probe.sentAt));
    expect(lastFailure - killedAt).toBeLessThan(1500);
  }, 90_000);
});

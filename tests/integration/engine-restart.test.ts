import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startProber } from '../../bench/load.js';
import { sampleImageRef } from '../../images/catalog.js';
import { localDockerdPid, stopDockerd, whyEngineCannotRestart } from '../helpers/local-dockerd.js';
import { runRunner } from '../helpers/runner-cli.js';
import { instancesOf, startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();
const cannotRestart = whyEngineCannotRestart();
if (cannotRestart) console.warn(`engine restart test skipped: ${cannotRestart}`);

interface InstanceEvent {
  at: number;
  instance: string;
  action: string;
  detail: { noticedBy?: string };
}

describe('the engine restarts under running instances (dockerd --live-restore, as runner setup starts it)', () => {
  let runner: RunnerProcess;

  beforeAll(async () => {
    // The sweep is slowed to ten minutes: a death after the restart must come through the reopened event stream.
    runner = await startRunner(docker, { sweepMs: 600_000 });
  });

  afterAll(async () => {
    await runner?.stop();
  });

  (cannotRestart ? test.skip : test)(
    'instances keep serving through it, and the first death after it is noticed and replaced at once',
    async () => {
      // What runner setup promises: containers keep running while the engine restarts.
      expect((await docker.info()) as object).toMatchObject({ LiveRestoreEnabled: true });
      const deployed = await runner.cli([
        'deploy',
        sampleImageRef('express'),
        '--name',
        'steady',
        '--min',
        '1',
        '--reserve-after',
        '600',
      ]);
      expect(deployed.exitCode).toBe(0);
      const [before] = await instancesOf(docker, runner.runnerId, 'steady');
      const startedAt = (await docker.getContainer(before!.Id).inspect()).State.StartedAt;
      const prober = startProber(`${runner.gateway}/fn/steady/`, 20);

      await stopDockerd(localDockerdPid()!);
      const engineDownAt = performance.now();
      await until('requests served while the engine is down', async () =>
        prober.results.filter((probe) => probe.sentAt > engineDownAt && probe.status === 200).length >= 20
          ? true
          : undefined,
      );
      const setup = await runRunner(['setup', '--for-tests']);
      expect(setup.exitCode).toBe(0);
      expect(setup.all).toContain('starting dockerd');

      const engineBackAt = performance.now();
      await until('requests served once the engine is back', async () =>
        prober.results.filter((probe) => probe.sentAt > engineBackAt && probe.status === 200).length >= 20
          ? true
          : undefined,
      );
      const results = await prober.stop();
      expect(results.filter((probe) => probe.status !== 200)).toEqual([]);
      // Live-restore kept the same container running: not restarted, not replaced.
      const kept = await docker.getContainer(before!.Id).inspect();
      expect(kept.State.Running).toBe(true);
      expect(kept.State.StartedAt).toBe(startedAt);

      // A request in flight at a kill fails with it: no prober across this part.
      const killedAt = Date.now();
      await docker.getContainer(before!.Id).kill();
      const replacement = await until(
        'a replacement instance serving',
        async () =>
          (await instancesOf(docker, runner.runnerId, 'steady')).find(
            (info) => info.Id !== before!.Id && info.State === 'running',
          ),
        20_000,
      );
      await until(
        'the replacement answering through the edge',
        async () => (await fetch(`${runner.gateway}/fn/steady/`)).status === 200 || undefined,
      );
      expect(replacement.Id).not.toBe(before!.Id);
      const listed = await runner.cli(['events', 'steady', '--json']);
      const deaths = (JSON.parse(listed.stdout) as InstanceEvent[]).filter((event) => event.action === 'die');
      expect(deaths).toHaveLength(1);
      // The engine's own event, through the stream reopened after the restart; not the ten-minute sweep.
      expect(['die', 'kill']).toContain(deaths[0]!.detail.noticedBy);
      expect(deaths[0]!.at - killedAt).toBeLessThan(2000);
    },
    120_000,
  );
});

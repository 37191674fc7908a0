/**
 * A crash of the only instance of a `--min 1` function (express sample, `GET /crash` exits with code 3):
 * the time until the function answers 200 again, against the app's own cold start (the floor: create + start
 * through the Engine API, poll the app until its first 200, same image); and how many requests of a prober
 * at a fixed rate failed around the crash. Floor and crash runs alternate; medians of the runs.
 *
 *   npm run bench:crash -- [--runs 5] [--rate 20]
 */
import { parseArgs } from 'node:util';
import { sampleImageRef } from '../images/catalog.js';
import { createDocker, dockerEndpointFromEnv } from '../engine/docker-endpoint.js';
import { median, startProber } from './load.js';
import { deploy, floorRun, instances, sleep, startBenchRunner, waitFor } from './runner-harness.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, rate: { type: 'string', default: '20' } },
});
const runs = Number(values.runs);
const rate = Number(values.rate);
const image = sampleImageRef('express');
const docker = createDocker(dockerEndpointFromEnv(process.env));
const fmt = (ms: number) => ms.toFixed(0);

const runner = await startBenchRunner(1000);
const floors: number[] = [];
const recoveries: number[] = [];
const failures: number[] = [];
/** Failed probes sent after the crash was answered: none of them could have been in the app when it died. */
const lateFailures: number[] = [];
const probes: number[] = [];
try {
  for (let run = 0; run < runs; run++) {
    floors.push(await floorRun(docker, image, 512 * 1024 ** 2, 3000));
    // A fresh revision each run: this measures a first crash, not a crash loop's backoff.
    const url = await deploy(runner.client, image, 'crashy', { min: 1, reserveAfter: 600 });
    const prober = startProber(url, rate);
    await sleep(1000);
    const [before] = await instances(runner.client, 'crashy');
    const crashedAt = performance.now();
    const crash = await fetch(`${url}crash`);
    await crash.arrayBuffer();
    // Requests sent before the crash was answered may still have been served by the app before it exited.
    const crashAnsweredAt = performance.now();
    await waitFor('a 200 from a request sent after the crash', async () =>
      prober.results.some((probe) => probe.sentAt > crashAnsweredAt && probe.status === 200),
    );
    await sleep(1000);
    const results = await prober.stop();
    const answeredAgain = Math.min(
      ...results
        .filter((probe) => probe.sentAt > crashedAt && probe.status === 200)
        .map((probe) => probe.doneAt),
    );
    const [after] = await instances(runner.client, 'crashy');
    if (!after || after.name === before?.name) throw new Error('the crashed instance was not replaced');
    recoveries.push(answeredAgain - crashedAt);
    const failed = results.filter((probe) => probe.status !== 200);
    failures.push(failed.length);
    lateFailures.push(failed.filter((probe) => probe.sentAt > crashAnsweredAt).length);
    probes.push(results.length);
    console.error(
      `run ${run + 1}: crash answered ${crash.status}, 200 again after ${fmt(answeredAgain - crashedAt)} ms, ` +
        `floor ${fmt(floors.at(-1)!)} ms, ${failed.length} of ${results.length} probes failed ` +
        `${failed.map((probe) => `${probe.status} ${probe.error ?? ''}`.trim()).join(', ')}`,
    );
  }
} finally {
  await runner.client.call('DELETE', '/v1/functions/crashy').catch(() => undefined);
  await runner.stop();
}

const overFloor = median(recoveries) - median(floors);
console.log(`crash of the only instance (--min 1), ${runs} runs, prober at ${rate} req/s\n`);
console.log('| figure | median | runs |');
console.log('| --- | --- | --- |');
console.log(
  `| the app's own cold start (floor) | ${fmt(median(floors))} ms | ${floors.map(fmt).join(' ')} |`,
);
console.log(`| crash → 200 again | ${fmt(median(recoveries))} ms | ${recoveries.map(fmt).join(' ')} |`);
console.log(`| added over the floor | **${fmt(overFloor)} ms** (goal ≤ 1000 ms) | |`);
console.log(`| failed probes | ${median(failures)} | ${failures.join(' ')} (of ${probes.join(' ')}) |`);
console.log(
  `| of those, sent after the crash was answered | ${median(lateFailures)} | ${lateFailures.join(' ')} |`,
);

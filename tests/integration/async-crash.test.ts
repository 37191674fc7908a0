import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sampleImageRef } from '../../images/catalog.js';
import { startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();
/** 20 in the suite; `npm run crash:async` runs 100. */
const KILLS = Number(process.env['PILOTLIGHT_CRASH_KILLS'] ?? 20);

interface Row {
  id: string;
  state: string;
  attempts: string;
  delivery: string | null;
}

/** The runner's own record of every event, read from its file as it is on disk. */
function records(dataDir: string): Row[] {
  const db = new DatabaseSync(join(dataDir, 'invocations.db'), { readOnly: true });
  try {
    return db.prepare('SELECT id, state, attempts, delivery FROM invocations').all() as unknown as Row[];
  } finally {
    db.close();
  }
}

describe('async events survive kill -9 at random moments', () => {
  let runner: RunnerProcess;
  let hook: Server;
  const delivered = new Map<string, number>();

  beforeAll(async () => {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const { invocationId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          invocationId: string;
        };
        delivered.set(invocationId, (delivered.get(invocationId) ?? 0) + 1);
        res.end();
      });
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    runner = await startRunner(docker);
    const deployed = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'durable',
      '--async-concurrency',
      '4',
      '--on-success',
      `http://127.0.0.1:${(hook.address() as AddressInfo).port}/done`,
    ]);
    expect(deployed.exitCode).toBe(0);
  });
  afterAll(async () => {
    await runner.stop();
    hook.close();
  });

  test(`${KILLS} kills: every acknowledged event ends once, succeeded, and its record is delivered`, async () => {
    const acknowledged: string[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const batch = Array.from({ length: 6 }, (_, n) => `k${kill}-${n}`);
      const answers = await Promise.all(
        batch.map((id) =>
          fetch(`${runner.gateway}/fn/durable/slow?ms=${20 + Math.floor(Math.random() * 150)}`, {
            headers: { 'x-pilotlight-invocation-type': 'Event', 'x-pilotlight-invocation-id': id },
          }).then((answer) => answer.status),
        ),
      );
      batch.forEach((id, index) => answers[index] === 202 && acknowledged.push(id));
      // A random moment: events queued, running, finishing or being delivered.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 250)));
      await runner.kill();
      runner = await startRunner(docker, { dataDir: runner.dataDir });
    }
    expect(acknowledged).toHaveLength(KILLS * 6);

    const done = await until(
      'every acknowledged event finished and delivered',
      async () => {
        const rows = new Map(records(runner.dataDir).map((row) => [row.id, row]));
        const all = acknowledged.every(
          (id) => rows.get(id)?.state === 'succeeded' && rows.get(id)?.delivery === 'delivered',
        );
        return all ? rows : undefined;
      },
      120_000,
    );

    let restarted = 0;
    for (const id of acknowledged) {
      const attempts = JSON.parse(done.get(id)!.attempts) as Array<{ outcome: string; status: unknown }>;
      // Exactly one attempt succeeded; any other was cut off by a kill (and counted as such).
      expect(attempts.filter((attempt) => attempt.outcome === 'succeeded')).toHaveLength(1);
      const cut = attempts.filter((attempt) => attempt.status === 'RUNNER_RESTARTED').length;
      expect(attempts.length).toBe(1 + cut);
      restarted += cut;
      expect(delivered.get(id)).toBeGreaterThanOrEqual(1);
    }
    // Kills did land while events ran (about 70 of 120 here), and at most the events running at each kill
    // (async concurrency 4) were cut off and run again.
    expect(restarted).toBeGreaterThan(0);
    expect(restarted).toBeLessThanOrEqual(KILLS * 4);

    await runner.stop({ keepDataDir: true });
    const db = new DatabaseSync(join(runner.dataDir, 'invocations.db'));
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    } finally {
      db.close();
    }
    runner = await startRunner(docker, { dataDir: runner.dataDir });
  }, 300_000);
});

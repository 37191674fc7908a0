import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { LABEL_FUNCTION, LABEL_RUNNER } from '../../engine/labels.js';
import { sampleImageRef } from '../../images/catalog.js';
import { readRunnerInfo } from '../../runner/src/control/runner-files.js';
import { startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { execIn, testDocker } from '../helpers/test-docker.js';
import { tempDir } from '../helpers/temp-dir.js';

const docker = testDocker();
const express = sampleImageRef('express');

async function containersOf(runner: RunnerProcess, fn: string) {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_RUNNER}=${runner.runnerId}`, `${LABEL_FUNCTION}=${fn}`] },
  });
}

describe('one function spec: a file, flags on top, and the deployed spec printed back', () => {
  let runner: RunnerProcess;
  let dir: string;

  beforeAll(async () => {
    runner = await startRunner(docker);
    dir = tempDir('spec');
  });
  afterAll(() => runner.stop());

  test('deploy -f takes a YAML file with flags overriding it; get -o yaml gives it back losslessly', async () => {
    const file = join(dir, 'shop.yaml');
    await writeFile(
      file,
      stringify({
        image: express,
        name: 'shop',
        memory: '256m',
        max: 2,
        timeout: '90s',
        reserveAfter: '1m',
        env: { GREETING: 'hi', MODE: 'file' },
        initializer: 'path:/warm-up',
      }),
    );
    const deployed = await runner.cli(['deploy', '-f', file, '--max', '3', '-e', 'MODE=flag']);
    expect(deployed.exitCode).toBe(0);

    const printed = await runner.cli(['get', 'shop', '-o', 'yaml']);
    expect(printed.exitCode).toBe(0);
    const spec = parse(printed.stdout) as Record<string, unknown>;
    expect(spec).toMatchObject({
      image: express,
      name: 'shop',
      memory: '256m',
      max: 3,
      timeout: '1m30s',
      reserveAfter: '1m',
      env: { GREETING: 'hi', MODE: 'flag' },
      initializer: 'path:/warm-up',
      cpus: 1,
      min: 1,
      freezeAfter: '2m',
      port: 3000,
    });

    // What get printed deploys as it is, and prints back the same.
    const again = join(dir, 'again.yaml');
    await writeFile(again, printed.stdout);
    expect((await runner.cli(['deploy', '-f', again])).exitCode).toBe(0);
    const reprinted = await runner.cli(['get', 'shop', '-o', 'json']);
    expect(JSON.parse(reprinted.stdout)).toEqual(spec);
  });

  test('the initializer ran once on the instance, before its first request, and is a phase of the start', async () => {
    expect((await fetch(`${runner.gateway}/fn/shop/`)).status).toBe(200);
    const warmUp = (await (await fetch(`${runner.gateway}/fn/shop/warm-up`)).json()) as {
      runs: number;
      doneBeforeFirstRequest: boolean;
      marker: boolean;
    };
    expect(warmUp).toMatchObject({ runs: 1, doneBeforeFirstRequest: true, marker: true });
    const events = JSON.parse((await runner.cli(['events', 'shop', '--json'])).stdout) as Array<{
      action: string;
      detail: { initMs?: number };
    }>;
    const starts = events.filter((event) => event.action === 'start');
    expect(starts.length).toBeGreaterThan(0);
    for (const start of starts) expect(start.detail.initMs).toBeGreaterThanOrEqual(450);
  });

  test('describe, events --since, logs --json and the help say what a user needs', async () => {
    const described = await runner.cli(['describe', 'shop']);
    expect(described.exitCode).toBe(0);
    expect(described.stdout).toMatch(/^Name: +shop$/m);
    expect(described.stdout).toMatch(/^Revision: +2$/m);
    expect(described.stdout).toContain('  memory: 256m');
    expect(described.stdout).toMatch(/^ +pilotlight-shop-r2-[0-9a-f]+ +active /m);
    expect(described.stdout).toContain('Last errors: none');
    const asJson = JSON.parse((await runner.cli(['describe', 'shop', '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(Object.keys(asJson)).toEqual(['function', 'spec', 'events', 'errors']);

    const recent = JSON.parse(
      (await runner.cli(['events', 'shop', '--since', '10m', '--json'])).stdout,
    ) as unknown[];
    expect(recent.length).toBeGreaterThan(0);
    const future = await runner.cli(['events', 'shop', '--since', '2099-01-01T00:00:00Z', '--json']);
    expect(JSON.parse(future.stdout)).toEqual([]);

    const logs = (await runner.cli(['logs', 'shop', '--json', '--tail', '20'])).stdout.trim().split('\n');
    const lines = logs.map((line) => JSON.parse(line) as { instance: string; line: string });
    expect(lines).toContainEqual({
      instance: expect.stringMatching(/^pilotlight-shop-r2-/),
      line: 'express sample listening on 3000',
    });

    const help = (await runner.cli(['deploy', '--help'])).stdout;
    for (const flag of [
      '--reserve-after',
      '--initializer',
      '--max-event-size',
      '-m, --memory',
      '-f, --file',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('no request for this long');
    expect(help).toContain('Examples:');
    expect((await runner.cli(['--help'])).stdout).toContain('Exit codes: 0 success');
  });

  test('an initializer that fails fails the deploy with its output, and leaves nothing behind', async () => {
    const result = await runner.cli([
      'deploy',
      express,
      '--name',
      'broken',
      '--initializer',
      'path:/warm-up',
      '-e',
      'WARMUP_FAIL=the cache is down',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('[INITIALIZER_FAILED]');
    expect(result.stderr).toContain('warm-up failed: the cache is down');
    expect(await containersOf(runner, 'broken')).toEqual([]);
    expect(
      JSON.parse((await runner.cli(['ls', '--json'])).stdout).map((fn: { name: string }) => fn.name),
    ).not.toContain('broken');
  });

  test('bad input: every problem at once, an unknown field with a did-you-mean, and nothing deployed', async () => {
    const bad = await runner.cli([
      'deploy',
      express,
      '--name',
      'bad',
      '--timeout',
      '3h',
      '-m',
      'lots',
      '--min',
      '4',
      '--max',
      '2',
      '--zero-after',
      'soon',
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('timeout: 3h is out of range: allowed 1s–2h');
    expect(bad.stderr).toContain('memory: lots is not a size');
    expect(bad.stderr).toContain('zeroAfter: soon is not a duration');
    expect(bad.stderr).toContain('max: 2 is below min 4');

    // The control API answers 400 with every problem, as text and as a list, before anything starts.
    const { control, token } = readRunnerInfo(runner.dataDir);
    const api = await fetch(`${control}/v1/functions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ image: express, name: 'api', cpus: 0, memroy: '1g' }),
    });
    expect(api.status).toBe(400);
    expect(((await api.json()) as { error: { code: string; problems: unknown[] } }).error).toMatchObject({
      code: 'BAD_DEPLOY',
      problems: [
        {
          field: 'memroy',
          problem: 'no such field (did you mean memory?); `runner deploy --help` lists them',
        },
        { field: 'cpus', problem: '0 is out of range: allowed 0.01–64 CPUs' },
      ],
    });

    const file = join(dir, 'typo.yaml');
    await writeFile(file, `image: ${express}\nname: typo\nmemroy: 1g\n`);
    const typo = await runner.cli(['deploy', '-f', file]);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain('memroy: no such field (did you mean memory?)');
    for (const name of ['bad', 'typo']) expect(await containersOf(runner, name)).toEqual([]);
  });

  test('--env-file is read as docker run reads it: quotes kept, comments skipped, a bare name from the env', async () => {
    const envFile = join(dir, 'app.env');
    await writeFile(envFile, '# settings\nQUOTED="kept as written"\n\n  SPACED=a b\nFROM_ENV\nUNSET_HERE\n');
    const result = await runner.cli(['deploy', express, '--name', 'envfile', '--env-file', envFile], {
      FROM_ENV: 'from the caller',
    });
    expect(result.exitCode).toBe(0);
    const env = (await (await fetch(`${runner.gateway}/fn/envfile/env`)).json()) as Record<string, string>;
    expect(env['QUOTED']).toBe('"kept as written"');
    expect(env['SPACED']).toBe('a b');
    expect(env['FROM_ENV']).toBe('from the caller');
    expect(env).not.toHaveProperty('UNSET_HERE');
  });

  test('maxBodySize: a larger body is answered 413 without reaching the app; a smaller one is echoed', async () => {
    expect(
      (await runner.cli(['deploy', express, '--name', 'limits', '--max-body-size', '4k'])).exitCode,
    ).toBe(0);
    const big = await fetch(`${runner.gateway}/fn/limits/echo`, {
      method: 'POST',
      body: Buffer.alloc(8192, 1),
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-pilotlight-error')).toBe('BODY_TOO_LARGE');
    const small = await fetch(`${runner.gateway}/fn/limits/echo`, {
      method: 'POST',
      body: Buffer.alloc(1024, 2),
    });
    expect(small.status).toBe(200);
    expect(Buffer.from(await small.arrayBuffer()).equals(Buffer.alloc(1024, 2))).toBe(true);
  });

  test('pre-freeze reaches the adapter: its command runs in the instance before it is paused', async () => {
    const deployed = await runner.cli([
      'deploy',
      express,
      '--name',
      'hooks',
      '--reserve-after',
      '1s',
      '--freeze-after',
      '1s',
      '--pre-freeze',
      'command:["sh","-c","date +%s > /tmp/pre-freeze"]',
    ]);
    expect(deployed.exitCode).toBe(0);
    const [container] = await containersOf(runner, 'hooks');
    await until('the instance frozen', async () => {
      const listed = JSON.parse((await runner.cli(['ls', '--json'])).stdout) as Array<{
        name: string;
        instances: Array<{ state: string }>;
      }>;
      return listed.find((fn) => fn.name === 'hooks')?.instances[0]?.state === 'frozen' ? true : undefined;
    });
    expect((await fetch(`${runner.gateway}/fn/hooks/`)).status).toBe(200); // wakes it
    const ranAt = Number(await execIn(docker.getContainer(container!.Id), ['cat', '/tmp/pre-freeze']));
    expect(ranAt).toBeGreaterThan(0);
  });
});

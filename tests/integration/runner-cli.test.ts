import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { runRunner, spawnRunner } from '../helpers/runner-cli.js';
import { testDocker } from '../helpers/test-docker.js';

const docker = testDocker();

describe('runner setup', () => {
  test('a second run reinstalls and rebuilds nothing and takes seconds', async () => {
    const started = Date.now();
    const result = await runRunner(['setup', '--for-tests']);
    expect(result.exitCode).toBe(0);
    expect(result.all).not.toMatch(/installing|building/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('an engine that does not answer at DOCKER_HOST is one clear line and exit code 2', async () => {
    const result = await runRunner(['setup'], { DOCKER_HOST: 'unix:///tmp/pilotlight-no-such.sock' });
    expect(result.exitCode).toBe(2);
    const lines = String(result.all).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no Docker engine answers at unix:\/\/\/tmp\/pilotlight-no-such.sock/);
    expect(lines[0]).toMatch(/DOCKER_HOST/);
  });

  test('a malformed DOCKER_HOST is named with the accepted forms', async () => {
    const result = await runRunner(['setup'], { DOCKER_HOST: 'ftp://example' });
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(/DOCKER_HOST=ftp:\/\/example is not understood: use unix:\/\/\//);
  });
});

describe('runner up (idle)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pilotlight-up-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  test('serves the gateway, names unknown functions, and stops cleanly on SIGTERM', async () => {
    const runner = spawnRunner(['up', '--port', '0', '--control-port', '0', '--data-dir', dataDir]);
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      runner.all.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /gateway (http:\/\/[\d.]+:\d+)/.exec(output);
        if (match?.[1]) resolve(match[1]);
      });
      runner.then(() => reject(new Error(`runner exited early: ${output}`)));
    });

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const unknown = await fetch(`${url}/fn/nobody/`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-pilotlight-error')).toBe('UNKNOWN_FUNCTION');
    const body = (await unknown.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toContain('runner deploy IMAGE --name nobody');

    const reserved = await fetch(`${url}/fn/nobody/_/invoke`, { method: 'POST' });
    expect(reserved.status).toBe(403);
    expect(reserved.headers.get('x-pilotlight-error')).toBe('RESERVED_PATH');

    runner.kill('SIGTERM');
    const result = await runner;
    expect(result.exitCode).toBe(0);
  });
});

describe('runner demo (the README main job)', () => {
  test('deploys a sample, calls it, shows it shrink to reserved and wake, and leaves nothing running', async () => {
    const instances = () =>
      docker.listContainers({ all: true, filters: { label: ['pilotlight.kind=instance'] } });
    const before = (await instances()).length;
    const result = await runRunner(['demo']);
    expect(result.exitCode).toBe(0);
    expect(result.all).toMatch(/200 "hello from express" in [\d.]+ ms/);
    expect(result.all).toMatch(/is now reserved: 0\.05 CPU, 128m/);
    expect(result.all).toMatch(/is active again: 1 CPU, 512m/);
    expect(result.all).toContain('runner stopped');
    expect((await instances()).length).toBe(before);
  });
});

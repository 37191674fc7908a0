import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { runRunner } from '../helpers/runner-cli.js';
import { startRunner, until } from '../helpers/runner-process.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { runTempPrefix, testDocker } from '../helpers/test-docker.js';

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

describe('commands without a runner', () => {
  test('say that no runner is running for the data directory and how to start one', async () => {
    const dataDir = await mkdtemp(runTempPrefix('none'));
    try {
      const result = await runRunner(['ls', '--data-dir', dataDir]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trim()).toBe(
        `runner: no runner is running for ${dataDir}: start one with \`runner up --data-dir ${dataDir}\` [RUNNER_NOT_RUNNING]`,
      );
      // With --json the same error is JSON on stdout, with the same exit code.
      const json = await runRunner(['ls', '--data-dir', dataDir, '--json']);
      expect(json.exitCode).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({
        error: {
          code: 'RUNNER_NOT_RUNNING',
          message: `no runner is running for ${dataDir}: start one with \`runner up --data-dir ${dataDir}\``,
        },
      });
      const usage = await runRunner(['deploy', '--data-dir', dataDir, '--json', '--no-such-flag']);
      expect(usage.exitCode).toBe(64);
      expect(JSON.parse(usage.stdout).error.code).toBe('USAGE');
      // A value that begins with '-' is read as flags: the error says how to give it, and does not echo it.
      const dashed = await runRunner([
        'deploy',
        'x:1',
        '--data-dir',
        dataDir,
        '--username',
        'u',
        '--password',
        '-s3cret',
      ]);
      expect(dashed.exitCode).toBe(64);
      expect(dashed.stderr).toContain('write it as --password=VALUE');
      expect(dashed.stderr).not.toContain('s3cret');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('runner up', () => {
  test('serves the gateway, names unknown functions, refuses /_/, and stops cleanly on SIGTERM', async () => {
    const runner = await startRunner(docker);
    try {
      const url = runner.gateway;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const unknown = await fetch(`${url}/fn/nobody/`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('x-pilotlight-error')).toBe('UNKNOWN_FUNCTION');
      const body = (await unknown.json()) as { error: { code: string; message: string } };
      expect(body.error.message).toContain('runner deploy IMAGE --name nobody');

      const reserved = await fetch(`${url}/fn/nobody/_/invoke`, { method: 'POST' });
      expect(reserved.status).toBe(403);
      expect(reserved.headers.get('x-pilotlight-error')).toBe('RESERVED_PATH');

      expect((await stat(join(runner.dataDir, 'token'))).mode & 0o777).toBe(0o600);
      expect((await stat(runner.dataDir)).mode & 0o777).toBe(0o700);
      for (const db of ['state.db', 'invocations.db']) {
        for (const file of [db, `${db}-wal`, `${db}-shm`]) {
          const mode = (await stat(join(runner.dataDir, file))).mode & 0o777;
          expect({ file, mode: mode.toString(8) }).toEqual({ file, mode: '600' });
        }
      }

      // A second runner on a port in use says which and how to move it, in one line.
      const taken = new URL(url).port;
      const other = await mkdtemp(runTempPrefix('port'));
      const clash = await runRunner(['up', '--data-dir', other, '--port', taken, '--control-port', '0']);
      expect(clash.exitCode).toBe(2);
      expect(clash.stderr.trim()).toBe(
        `runner: 127.0.0.1:${taken} is already in use: pass --port with another port (0 picks a free one) [PORT_IN_USE]`,
      );
      await rm(other, { recursive: true, force: true });

      runner.process.kill('SIGTERM');
      expect((await runner.process).exitCode).toBe(0);
    } finally {
      await runner.stop();
    }
  });
});

describe('runner up keeps its state and its control API private', () => {
  test('a state database others can read stops it before it starts, in one line naming the file and the chmod', async () => {
    const dataDir = await mkdtemp(runTempPrefix('open'));
    try {
      const db = join(dataDir, 'state.db');
      await writeFile(db, '');
      await chmod(db, 0o644);
      const result = await runRunner(['up', '--data-dir', dataDir, '--port', '0', '--control-port', '0']);
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trim()).toBe(
        `runner: ${db} (mode 0644) is open to group or others, and holds the runner's secrets: run \`chmod 600 ${db}\` [STATE_FILES_EXPOSED]`,
      );
      expect(existsSync(join(dataDir, 'token'))).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a control host off loopback is refused without TLS; --insecure-control starts it with a warning', async () => {
    const dataDir = await mkdtemp(runTempPrefix('insecure'));
    const args = [
      'up',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--control-port',
      '0',
      '--control-host',
      'localhost',
    ];
    const refused = await runRunner(args);
    await rm(dataDir, { recursive: true, force: true });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.trim()).toBe(
      'runner: --control-host localhost puts the control API and its token on the network: pass --tls-cert FILE --tls-key FILE to serve it over HTTPS, or --insecure-control to accept plain HTTP [CONTROL_NEEDS_TLS]',
    );

    const runner = await startRunner(docker, { args: ['--control-host', 'localhost', '--insecure-control'] });
    try {
      const warning = await until('the warning', async () => /^warning: .*$/m.exec(runner.output())?.[0]);
      expect(warning).toMatch(
        /^warning: the control API listens on localhost:\d+ over plain HTTP \(--insecure-control\): its token and every call cross the network unencrypted$/,
      );
      const listed = await runner.cli(['ls', '--json']);
      expect(listed.exitCode).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([]);
    } finally {
      await runner.stop();
    }
  });

  test('with --tls-cert and --tls-key the control API is HTTPS, and the CLI works against it', async () => {
    const tls = selfSignedCert();
    const runner = await startRunner(docker, {
      args: ['--control-host', 'localhost', '--tls-cert', tls.certFile, '--tls-key', tls.keyFile],
    });
    try {
      const control = /control (https:\/\/localhost:\d+) /.exec(runner.output())?.[1];
      expect(control).toBeDefined();
      const info = JSON.parse(await readFile(join(runner.dataDir, 'runner.json'), 'utf8')) as Record<
        string,
        string
      >;
      expect(info['control']).toBe(control);
      expect(info['controlCert']).toBe(tls.cert.toString('utf8').trim());
      // Nothing trusts a self-signed certificate by default: the CLI does because runner.json names it.
      await expect(fetch(`${control}/v1/functions`)).rejects.toThrow();
      const listed = await runner.cli(['ls', '--json']);
      expect(listed.exitCode).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([]);
      const unknown = await runner.cli(['describe', 'nobody']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr.trim()).toMatch(/^runner: no function named "nobody".*\[UNKNOWN_FUNCTION\]$/);
    } finally {
      await runner.stop();
      await rm(tls.dir, { recursive: true, force: true });
    }
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

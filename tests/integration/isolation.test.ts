import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type Docker from 'dockerode';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sampleImageRef, thirdPartyImageRef } from '../../images/catalog.js';
import { DEFAULT_CAPABILITIES } from '../../runner/src/spec/function-schema.js';
import { confinementProblems } from '../helpers/confinement-audit.js';
import { instancesOf, startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { testDocker } from '../helpers/test-docker.js';
import { tempDir } from '../helpers/temp-dir.js';

const docker = testDocker();

describe('isolation by default, and per function', () => {
  let runner: RunnerProcess;

  beforeAll(async () => {
    runner = await startRunner(docker);
  }, 60_000);

  afterAll(async () => {
    await runner?.stop();
  }, 60_000);

  async function deploy(image: string, fn: string, flags: string[] = []): Promise<void> {
    const result = await runner.cli(['deploy', image, '--name', fn, ...flags]);
    if (result.exitCode !== 0) throw new Error(`deploy of ${fn} failed:\n${result.all}`);
  }

  async function instanceOf(fn: string) {
    const [info] = await instancesOf(docker, runner.runnerId, fn);
    return docker.getContainer(info!.Id).inspect();
  }

  async function post(fn: string, path: string): Promise<Record<string, unknown>> {
    const answer = await fetch(`${runner.gateway}/fn/${fn}${path}`, { method: 'POST' });
    expect(answer.status).toBe(200);
    return (await answer.json()) as Record<string, unknown>;
  }

  test.each([
    ['express', sampleImageRef('express'), 'hello from express'],
    ['nginx', thirdPartyImageRef('nginx'), 'hello from nginx'],
    ['tomcat', thirdPartyImageRef('tomcat'), 'hello from tomcat'],
    ['scratch', sampleImageRef('scratch'), 'static binary'],
  ])(
    '%s runs with the defaults: capabilities cut to the allowlist, no new privileges, limits',
    async (fn, image, text) => {
      await deploy(image, fn);
      const answer = await fetch(`${runner.gateway}/fn/${fn}/`);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain(text);
      const info = await instanceOf(fn);
      expect(confinementProblems(info)).toEqual([]);
      expect(info.HostConfig.CapAdd).toEqual([...DEFAULT_CAPABILITIES].sort());
      expect(info.HostConfig.PidsLimit).toBe(1024);
      expect(info.HostConfig.ReadonlyRootfs).toBe(false);
    },
    120_000,
  );

  test('per function: a read-only root with a tmpfs /tmp, a user, a tmpfs of its own, capabilities added and taken', async () => {
    const flags = ['--read-only', '--user', '10001:10001', '--tmpfs', '/cache:8m'];
    await deploy(sampleImageRef('express'), 'confined', [
      ...flags,
      ...['--cap-add', 'NET_RAW', '--cap-drop', 'chown', '--pids-limit', '256'],
    ]);
    const info = await instanceOf('confined');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.Config.User).toBe('10001:10001');
    expect(Object.keys(info.HostConfig.Tmpfs ?? {}).sort()).toEqual(['/cache', '/tmp']);
    expect(info.HostConfig.CapAdd).toContain('NET_RAW');
    expect(info.HostConfig.CapAdd).not.toContain('CHOWN');
    expect(info.HostConfig.PidsLimit).toBe(256);
    expect(confinementProblems(info)).toEqual([]);
    const processes = await docker.getContainer(info.Id).top({ ps_args: '-o pid,uid' });
    expect(new Set(processes.Processes.map((row: string[]) => row[1]))).toEqual(new Set(['10001']));

    expect(await post('confined', '/fill?path=/app')).toEqual({ bytes: 0, code: 'EROFS' });
    // The tmpfs fills to its size and no further; nothing lands in the container's own layer.
    expect(await post('confined', '/fill?path=/cache')).toEqual({ bytes: 8 * 1024 ** 2, code: 'ENOSPC' });
    const sized = await docker
      .getContainer(info.Id)
      .inspect({ size: true } as Parameters<Docker.Container['inspect']>[0]);
    expect((sized as { SizeRw?: number }).SizeRw).toBe(0);
    expect((await fetch(`${runner.gateway}/fn/confined/`)).status).toBe(200);

    const yaml = (await runner.cli(['get', 'confined', '-o', 'yaml'])).stdout;
    expect(yaml).toMatch(/readOnly: true/);
    expect(yaml).toMatch(/user: 10001:10001/);
    expect(yaml).toMatch(/\/cache: 8m/);
    expect(yaml).toMatch(/capAdd:\n\s+- NET_RAW/);
  }, 120_000);

  test('a fork bomb stops at the pids limit, the host is unaffected, and the instance is replaced', async () => {
    await deploy(sampleImageRef('express'), 'bomb', ['--min', '1', '--pids-limit', '128']);
    const [first] = await instancesOf(docker, runner.runnerId, 'bomb');
    await post('bomb', '/fork-bomb');
    const replacement = await until(
      'a new instance of bomb',
      async () => {
        const now = await instancesOf(docker, runner.runnerId, 'bomb');
        return now.find((info) => info.Id !== first!.Id && info.State === 'running');
      },
      60_000,
    );
    expect(replacement.Id).not.toBe(first!.Id);
    expect(spawnSync('true').status).toBe(0);
    const described = (await runner.cli(['describe', 'bomb'])).stdout;
    expect(described).toContain('reached its pids limit');
    await until('bomb answers again', async () => (await fetch(`${runner.gateway}/fn/bomb/`)).status === 200);
  }, 120_000);

  test('a log flood (100 MB/s) neither fills the disk nor stalls the runner, and `runner logs` says lines were dropped', async () => {
    await deploy(sampleImageRef('express'), 'flood');
    const info = await instanceOf('flood');
    const { control, token } = runnerControl(runner.dataDir);
    await post('flood', '/log-flood?mb=100&seconds=4');
    const slowest = await everyAnswerDuring(4000, async () => {
      const answer = await fetch(`${control}/v1/functions`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer.status).toBe(200);
    });
    expect(slowest).toBeLessThan(1000);
    const logs = await until('the dropped lines to be told', async () => {
      const output = (await runner.cli(['logs', 'flood', '--tail', '20'])).stdout;
      return output.includes('app output dropped') ? output : undefined;
    });
    expect(logs).toMatch(/"droppedLines":\d+/);
    const logDir = dirname(info.LogPath);
    const kept = readdirSync(logDir)
      .filter((file) => file.includes('-json.log'))
      .reduce((total, file) => total + statSync(join(logDir, file)).size, 0);
    expect(kept).toBeLessThanOrEqual(31 * 1024 ** 2);
  }, 120_000);

  test('a secret reaches the app in its environment, is stored sealed, is never shown, and the engine has no copy', async () => {
    const value = `s3cret-${Date.now()}`;
    const file = join(tempDir('secret'), 'db-password');
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    await deploy(sampleImageRef('express'), 'secretive', ['--secret', `DB_PASSWORD=@${file}`]);
    const env = (await (await fetch(`${runner.gateway}/fn/secretive/env`)).json()) as Record<string, string>;
    expect(env['DB_PASSWORD']).toBe(value);
    // Given on the container's stdin at start: the engine shows it nowhere and keeps it nowhere.
    const info = await instanceOf('secretive');
    expect(JSON.stringify(info)).not.toContain(value);
    const engineDir = ((await docker.info()) as { DockerRootDir: string }).DockerRootDir;
    const engineCopy = join(engineDir, 'containers', info.Id, 'config.v2.json');
    if (existsSync(engineDir)) expect(readFileSync(engineCopy, 'utf8')).not.toContain(value);
    for (const state of ['state.db', 'state.db-wal']) {
      const bytes = readFileSync(join(runner.dataDir, state), { flag: 'r' });
      expect({ state, holds: bytes.includes(value) }).toEqual({ state, holds: false });
    }
    const yaml = (await runner.cli(['get', 'secretive', '-o', 'yaml'])).stdout;
    expect(yaml).toMatch(/secrets:\n\s+- DB_PASSWORD/);
    expect(yaml).not.toContain(value);
    expect((await runner.cli(['describe', 'secretive'])).stdout).not.toContain(value);

    // Deployed again by name alone, it keeps its value; a value on the command line is refused.
    await deploy(sampleImageRef('express'), 'secretive', ['--secret', 'DB_PASSWORD']);
    const again = (await (await fetch(`${runner.gateway}/fn/secretive/env`)).json()) as Record<
      string,
      string
    >;
    expect(again['DB_PASSWORD']).toBe(value);
    const inline = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'secretive',
      '--secret',
      'X=plain',
    ]);
    expect(inline.exitCode).not.toBe(0);
    expect(inline.stderr).toContain('X=@FILE');
  }, 120_000);
});

function runnerControl(dataDir: string): { control: string; token: string } {
  const info = JSON.parse(readFileSync(join(dataDir, 'runner.json'), 'utf8')) as { control: string };
  return { control: info.control, token: readFileSync(join(dataDir, 'token'), 'utf8').trim() };
}

/** Calls `call` one after another for `ms`; the slowest call's duration. */
async function everyAnswerDuring(ms: number, call: () => Promise<void>): Promise<number> {
  const until = Date.now() + ms;
  let slowest = 0;
  while (Date.now() < until) {
    const started = performance.now();
    await call();
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

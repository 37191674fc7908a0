import { describe, expect, test } from '@jest/globals';
import { ensureEngine, type EnsureEngineDeps } from '../../host/ensure-engine.js';
import { FakeProcessRunner } from '../helpers/fake-process-runner.js';

function deps(overrides: Partial<EnsureEngineDeps> & { processes: FakeProcessRunner }): EnsureEngineDeps {
  return {
    ping: async () => false,
    endpoint: 'unix:///var/run/docker.sock',
    isLocalDefault: true,
    host: { isDebian: true, isRoot: true },
    sleep: async () => {},
    log: () => {},
    daemonLogFile: '/var/log/dockerd.log',
    ...overrides,
  };
}

describe('ensureEngine', () => {
  test('an engine that answers is used as it is: nothing installed or started', async () => {
    const processes = new FakeProcessRunner(new Set());
    const outcome = await ensureEngine(deps({ processes, ping: async () => true }));
    expect(outcome).toBe('already-running');
    expect(processes.calls).toEqual([]);
    expect(processes.spawned).toEqual([]);
  });

  test('on Debian as root with no engine, installs docker.io, starts dockerd and waits for it', async () => {
    let running = false;
    let pingsAfterStart = 0;
    const processes = new FakeProcessRunner(new Set(), {}, () => (running = true));
    const outcome = await ensureEngine(
      deps({ processes, ping: async () => running && ++pingsAfterStart > 3 }),
    );
    expect(outcome).toBe('installed-and-started');
    expect(processes.calls).toEqual([
      'apt-get update -q',
      'apt-get install -y -q --no-install-recommends docker.io',
    ]);
    expect(processes.spawned).toEqual(['dockerd --live-restore']);
  });

  test('an installed but stopped dockerd is started without reinstalling', async () => {
    let running = false;
    const processes = new FakeProcessRunner(new Set(['dockerd']), {}, () => (running = true));
    const outcome = await ensureEngine(deps({ processes, ping: async () => running }));
    expect(outcome).toBe('started');
    expect(processes.calls).toEqual([]);
    expect(processes.spawned).toEqual(['dockerd --live-restore']);
  });

  test('live-restore is left to daemon.json when it sets it either way (dockerd refuses a setting twice)', async () => {
    let running = false;
    const processes = new FakeProcessRunner(new Set(['dockerd']), {}, () => (running = true));
    await ensureEngine(
      deps({
        processes,
        ping: async () => running,
        daemonConfig: '{ "live-restore": false, "debug": true }',
      }),
    );
    expect(processes.spawned).toEqual(['dockerd']);
  });

  test('without root, stops with one line saying what is missing and how to fix it', async () => {
    const processes = new FakeProcessRunner(new Set());
    const run = ensureEngine(deps({ processes, host: { isDebian: true, isRoot: false } }));
    await expect(run).rejects.toMatchObject({
      code: 'ENGINE_UNAVAILABLE',
      message: expect.stringMatching(
        /no Docker engine answers at unix:\/\/\/var\/run\/docker.sock: install and start Docker/,
      ),
    });
    expect(processes.calls).toEqual([]);
  });

  test('a DOCKER_HOST that does not answer is never papered over by a local install', async () => {
    const processes = new FakeProcessRunner(new Set());
    const run = ensureEngine(deps({ processes, endpoint: 'tcp://10.0.0.9:2375', isLocalDefault: false }));
    await expect(run).rejects.toThrow(/tcp:\/\/10.0.0.9:2375 \(DOCKER_HOST\)/);
    expect(processes.calls).toEqual([]);
  });

  test('a dockerd that never answers is reported with its log file', async () => {
    const processes = new FakeProcessRunner(new Set(['dockerd']));
    const run = ensureEngine(deps({ processes, startTimeoutMs: 1000 }));
    await expect(run).rejects.toThrow(/did not answer .* within 1s: see \/var\/log\/dockerd.log/);
  });

  test('a failed apt-get install is reported with its output', async () => {
    const processes = new FakeProcessRunner(new Set(), {
      'apt-get install': { exitCode: 100, output: 'E: Unable to locate package docker.io' },
    });
    await expect(ensureEngine(deps({ processes }))).rejects.toThrow(/Unable to locate package docker.io/);
  });
});

import { startProber } from '../../bench/load.js';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SAMPLE_NAMES, sampleImageRef } from '../../images/catalog.js';
import { LABEL_RUNNER, LABEL_TEST_RUN, managedLabels } from '../../engine/labels.js';
import { testDocker, TEST_RUN_ID } from '../helpers/test-docker.js';
import { pushToRegistry, startTestRegistry, untag, type TestRegistry } from '../helpers/test-registry.js';
import {
  instancesOf,
  revisionStarting,
  startRunner,
  until,
  type RunnerProcess,
} from '../helpers/runner-process.js';
import { getOnOwnConnection } from '../helpers/own-connection.js';

const docker = testDocker();
const MiB = 1024 ** 2;

interface ListedFunction {
  name: string;
  digest?: string;
  revision?: number;
  waiting?: number;
  instances: Array<{
    id: string;
    name: string;
    state: string;
    cpus: number;
    memory: number;
    inflight: number;
  }>;
}

async function list(runner: RunnerProcess): Promise<ListedFunction[]> {
  const result = await runner.cli(['ls', '--json']);
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as ListedFunction[];
}

async function instancesListed(runner: RunnerProcess, fn: string) {
  return (await list(runner)).find((item) => item.name === fn)?.instances ?? [];
}

describe('runner deploy from the authenticated registry', () => {
  let registry: TestRegistry;
  let runner: RunnerProcess;
  const pushed: string[] = [];

  beforeAll(async () => {
    registry = await startTestRegistry(docker);
    for (const sample of SAMPLE_NAMES) {
      const ref = await pushToRegistry(
        docker,
        registry,
        sampleImageRef(sample),
        `samples/${sample}`,
        TEST_RUN_ID,
      );
      await untag(docker, ref); // the deploy must pull it
      pushed.push(ref);
    }
    runner = await startRunner(docker);
  });
  afterAll(async () => {
    await runner.stop();
    for (const ref of pushed) await untag(docker, ref);
    await registry.stop();
  });

  test.each(SAMPLE_NAMES.map((sample, index) => ({ sample, index })))(
    '$sample: pulled with credentials, digest recorded, served through the gateway',
    async ({ sample, index }) => {
      const ref = pushed[index]!;
      // The first takes its password from stdin, as scripts should; the others from the command line.
      const fromStdin = index === 0;
      const result = await runner.cli(
        [
          'deploy',
          ref,
          '--name',
          sample,
          '--username',
          registry.username,
          // `=`: the random password may begin with `-`, which a separate argument would make a flag.
          ...(fromStdin ? ['--password-stdin'] : [`--password=${registry.password}`]),
        ],
        {},
        fromStdin ? `${registry.password}\n` : undefined,
      );
      expect(result.stderr).toContain(`deployed ${sample} revision 1`);
      expect(result.stderr.includes('is insecure')).toBe(!fromStdin);
      expect(result.exitCode).toBe(0);
      const url = result.stdout.trim();
      expect(url).toBe(`${runner.gateway}/fn/${sample}/`);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(
        sample === 'scratch' ? 'static binary' : `hello from ${sample}`,
      );

      const listed = (await list(runner)).find((fn) => fn.name === sample)!;
      expect(listed.digest).toMatch(
        new RegExp(`^${registry.address}/samples/${sample}@sha256:[0-9a-f]{64}$`),
      );
      expect(listed.instances).toHaveLength(1);
      expect(listed.instances[0]!.state).toBe('active');

      // fetch() will not send a Host header of our choosing; node:http will.
      const byHost = await new Promise<number>((resolve, reject) => {
        const target = new URL(runner.gateway);
        request(
          { host: target.hostname, port: target.port, path: '/', headers: { host: `${sample}.localhost` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end();
      });
      expect(byHost).toBe(200);
    },
  );

  test('a wrong password is one clear line, and nothing is left behind', async () => {
    const result = await runner.cli([
      'deploy',
      pushed[0]!,
      '--name',
      'badauth',
      '--username',
      registry.username,
      '--password',
      'wrong',
    ]);
    expect(result.exitCode).toBe(2);
    // One line for the error, after the warning a password on the command line earns.
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('warning: using --password on the command line is insecure: use --password-stdin');
    expect(lines[1]).toContain(`registry ${registry.address} refused the credentials`);
    expect(await instancesOf(docker, runner.runnerId, 'badauth')).toHaveLength(0);
    expect((await list(runner)).map((fn) => fn.name)).not.toContain('badauth');
  });

  test('a missing tag is one clear line naming the image', async () => {
    const ref = `${registry.address}/samples/express:no-such-tag`;
    const result = await runner.cli([
      'deploy',
      ref,
      '--username',
      registry.username,
      '--password',
      registry.password,
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`image ${ref} was not found in registry ${registry.address}`);
  });

  test('an unreachable registry is one clear line', async () => {
    const result = await runner.cli(['deploy', '127.0.0.1:1/samples/express:1']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('cannot reach registry 127.0.0.1:1');
  });
});

describe('runner scaling and the pilot light', () => {
  let runner: RunnerProcess;
  beforeAll(async () => {
    runner = await startRunner(docker);
  });
  afterAll(() => runner.stop());

  test('idle → reserved (the engine shows the reserved spec) → woken by a request', async () => {
    const deployed = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'pilot',
      '--cpus',
      '1',
      '--memory',
      '512m',
      '--reserved-cpus',
      '0.1',
      '--reserved-memory',
      '128m',
      '--reserve-after',
      '1',
      '--freeze-after',
      '600',
    ]);
    expect(deployed.exitCode).toBe(0);
    const [container] = await instancesOf(docker, runner.runnerId, 'pilot');
    const reserved = await until('the reserved spec', async () => {
      const info = await docker.getContainer(container!.Id).inspect();
      return info.HostConfig.NanoCpus === 100_000_000 ? info : undefined;
    });
    expect(reserved.HostConfig.Memory).toBe(128 * MiB);
    expect(reserved.State.Running).toBe(true);
    expect((await instancesListed(runner, 'pilot'))[0]).toMatchObject({
      state: 'reserved',
      cpus: 0.1,
      memory: 128 * MiB,
    });

    const response = await fetch(`${runner.gateway}/fn/pilot/`);
    expect(response.status).toBe(200);
    const woken = await docker.getContainer(container!.Id).inspect();
    expect(woken.HostConfig.NanoCpus).toBe(1_000_000_000);
    expect(woken.HostConfig.Memory).toBe(512 * MiB);
    expect(woken.State.StartedAt).toBe(reserved.State.StartedAt);
  });

  test('an open WebSocket keeps its instance active: it is neither shrunk nor frozen under it', async () => {
    const idle = ['--reserve-after', '1', '--freeze-after', '1'];
    for (const fn of ['socketed', 'unsocketed']) {
      const deployed = await runner.cli(['deploy', sampleImageRef('express'), '--name', fn, ...idle]);
      expect(deployed.exitCode).toBe(0);
    }
    const socket = new WebSocket(`${runner.gateway.replace('http', 'ws')}/fn/socketed/ws`);
    const messages: string[] = [];
    socket.addEventListener('message', (event) => messages.push(String(event.data)));
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', () => reject(new Error('websocket failed')));
    });
    // The same settings with no socket open: once that instance is frozen, both graces have passed.
    await until('the instance with no socket frozen', async () =>
      (await instancesListed(runner, 'unsocketed'))[0]?.state === 'frozen' ? true : undefined,
    );
    expect((await instancesListed(runner, 'socketed'))[0]).toMatchObject({ state: 'active' });
    socket.send('still there');
    await until('the echo', async () => (messages.includes('echo: still there') ? true : undefined));

    socket.close();
    await until('the instance shrunk once its socket closed', async () =>
      ['reserved', 'frozen'].includes((await instancesListed(runner, 'socketed'))[0]?.state ?? '')
        ? true
        : undefined,
    );
  });

  test('a frozen instance is unpaused and resized before the request reaches it', async () => {
    expect(
      (
        await runner.cli([
          'deploy',
          sampleImageRef('flask'),
          '--name',
          'frosty',
          '--reserve-after',
          '1',
          '--freeze-after',
          '1',
        ])
      ).exitCode,
    ).toBe(0);
    const [container] = await instancesOf(docker, runner.runnerId, 'frosty');
    await until('the pause', async () =>
      (await docker.getContainer(container!.Id).inspect()).State.Paused ? true : undefined,
    );
    const response = await fetch(`${runner.gateway}/fn/frosty/`);
    expect(await response.text()).toBe('hello from flask\n');
    expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(false);
  });

  test('min 0: scales to zero after the grace, and the next request cold-starts through the activator', async () => {
    expect(
      (
        await runner.cli([
          'deploy',
          sampleImageRef('express'),
          '--name',
          'zero',
          '--min',
          '0',
          '--zero-after',
          '1',
        ])
      ).exitCode,
    ).toBe(0);
    await until('scale to zero', async () =>
      (await instancesOf(docker, runner.runnerId, 'zero')).length === 0 ? true : undefined,
    );
    const started = Date.now();
    const response = await fetch(`${runner.gateway}/fn/zero/slow?ms=10`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('slept 10 ms\n');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await instancesOf(docker, runner.runnerId, 'zero')).toHaveLength(1);
  });

  test('load drives the function out to at least 3 instances, and scale-in under a prober fails nothing', async () => {
    expect(
      (
        await runner.cli([
          'deploy',
          sampleImageRef('express'),
          '--name',
          'busy',
          '--concurrency',
          '1',
          '--max',
          '4',
          '--stable-window',
          '4',
          '--scale-down-delay',
          '1',
          '--reserve-after',
          '600',
        ])
      ).exitCode,
    ).toBe(0);
    const load = Array.from({ length: 6 }, () => fetch(`${runner.gateway}/fn/busy/slow?ms=4000`));
    const most = await until('three instances', async () => {
      const count = (await instancesOf(docker, runner.runnerId, 'busy')).length;
      return count >= 3 ? count : undefined;
    });
    expect(most).toBeGreaterThanOrEqual(3);
    const answers = await Promise.all(load);
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));

    // Load is gone: the count falls back to the minimum while a prober keeps calling.
    let failures = 0;
    let probes = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const status = await fetch(`${runner.gateway}/fn/busy/`).then(
          (r) => r.status,
          () => 0,
        );
        probes += 1;
        if (status !== 200) failures += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await until(
      'scale-in to one',
      async () => ((await instancesOf(docker, runner.runnerId, 'busy')).length === 1 ? true : undefined),
      40_000,
    );
    // The prober ran through the scale-in and keeps on a while past it (the drained instances' last answers).
    const atScaleIn = probes;
    await until('20 probes after the scale-in', async () => probes >= atScaleIn + 20 || undefined);
    probing = false;
    await prober;
    expect(atScaleIn).toBeGreaterThan(10);
    expect(failures).toBe(0);
  });
});

describe('runner restart', () => {
  test('after kill -9, runner up adopts running instances (no restarts, no duplicates) and removes orphans', async () => {
    const first = await startRunner(docker);
    const dataDir = first.dataDir;
    let second: RunnerProcess | undefined;
    try {
      expect(
        (await first.cli(['deploy', sampleImageRef('express'), '--name', 'keep', '--min', '2'])).exitCode,
      ).toBe(0);
      await until('two instances', async () => {
        const listed = await instancesListed(first, 'keep');
        return listed.filter((instance) => instance.state === 'active').length === 2 ? true : undefined;
      });
      const before = (await instancesOf(docker, first.runnerId, 'keep')).map((info) => info.Id).sort();
      const orphan = await docker.createContainer({
        Image: sampleImageRef('scratch'),
        Labels: {
          ...managedLabels('instance', { [LABEL_RUNNER]: first.runnerId, 'pilotlight.function': 'gone' }),
          // Made by the test, not by a runner: the audit of instances leaves it out.
          [LABEL_TEST_RUN]: TEST_RUN_ID,
        },
      });
      await orphan.start();
      const orphanNetwork = await docker.createNetwork({
        Name: `pilotlight-${first.runnerId}-gone`,
        Labels: managedLabels('network', { [LABEL_RUNNER]: first.runnerId, 'pilotlight.function': 'gone' }),
      });

      await first.kill();
      second = await startRunner(docker, { dataDir });
      expect(second.output()).toMatch(/adopted instance fn=keep/);
      const after = (await instancesOf(docker, first.runnerId, 'keep')).map((info) => info.Id).sort();
      expect(after).toEqual(before);
      for (const id of after) expect((await docker.getContainer(id).inspect()).RestartCount).toBe(0);
      // Removed once the edge has no request open at it: at once, since none was.
      await until('the orphan and its network removed', async () => {
        const gone = async (inspect: () => Promise<unknown>) =>
          inspect().then(
            () => false,
            (error: { statusCode?: number }) => error.statusCode === 404,
          );
        return (await gone(() => orphan.inspect())) && (await gone(() => orphanNetwork.inspect()))
          ? true
          : undefined;
      });
      expect((await fetch(`${second.gateway}/fn/keep/`)).status).toBe(200);
      // Adopted instances are watched like any other: a crash of one is replaced.
      expect((await getOnOwnConnection(`${second.gateway}/fn/keep/crash`)).status).toBe(502);
      await until('the crashed adopted instance replaced', async () => {
        const active = (await instancesListed(second!, 'keep')).filter((item) => item.state === 'active');
        const fresh = active.filter((item) => !before.includes(item.id));
        return active.length === 2 && fresh.length === 1 ? true : undefined;
      });
    } finally {
      await second?.stop();
      await first.stop().catch(() => undefined);
    }
  });
});

describe('runner rm killed mid-drain', () => {
  test('the runner started again finishes the removal: the function does not come back', async () => {
    const first = await startRunner(docker);
    const dataDir = first.dataDir;
    let second: RunnerProcess | undefined;
    try {
      expect(
        (await first.cli(['deploy', sampleImageRef('express'), '--name', 'leaving', '--min', '1'])).exitCode,
      ).toBe(0);
      const [instance] = await until('an active instance', async () => {
        const active = (await instancesListed(first, 'leaving')).filter((item) => item.state === 'active');
        return active.length === 1 ? active : undefined;
      });
      // A request in flight keeps the drain waiting, and it is not cut by the restart either.
      const slow = fetch(`${first.gateway}/fn/leaving/slow?ms=6000`).then(
        (res) => res.status,
        (error: Error) => error.message,
      );
      await until('the request in flight', async () => {
        const stats = (await (await fetch(`${first.gateway}/fn/leaving/peak`)).json()) as {
          inflight: number;
        };
        return stats.inflight === 1 || undefined;
      });
      const removal = first.cli(['rm', 'leaving']);
      await until(
        'the function no longer listed, its instance still draining',
        async () => (await list(first)).every((fn) => fn.name !== 'leaving') || undefined,
      );
      expect((await docker.getContainer(instance!.id).inspect()).State.Running).toBe(true);
      await first.kill();
      expect((await removal).exitCode).not.toBe(0);

      second = await startRunner(docker, { dataDir });
      expect((await list(second)).map((fn) => fn.name)).not.toContain('leaving');
      expect((await fetch(`${second.gateway}/fn/leaving/`)).status).toBe(404);
      expect(await slow).toBe(200);
      await until('the instance and its network removed', async () => {
        const networks = await docker.listNetworks({
          filters: { name: [`pilotlight-${first.runnerId}-leaving`] },
        });
        const left = await instancesOf(docker, first.runnerId, 'leaving');
        return left.length === 0 && networks.length === 0 ? true : undefined;
      });
    } finally {
      await second?.stop();
      await first.stop().catch(() => undefined);
    }
  });
});

describe('runner deploy bad input', () => {
  let runner: RunnerProcess;
  beforeAll(async () => {
    runner = await startRunner(docker);
  });
  afterAll(() => runner.stop());

  async function expectNothingLeft(name: string): Promise<void> {
    expect(await instancesOf(docker, runner.runnerId, name)).toHaveLength(0);
    expect((await list(runner)).map((fn) => fn.name)).not.toContain(name);
    const network = `pilotlight-${runner.runnerId}-${name}`;
    expect(await docker.listNetworks({ filters: { name: [network] } })).toEqual([]);
  }

  test('a wrong port names the port the app listens on, with its last log lines', async () => {
    const result = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'wrongport',
      '--port',
      '4000',
      '--startup-timeout',
      '3',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('the app listens on 3000, not 4000');
    expect(result.stderr).toContain('express sample listening on 3000');
    await expectNothingLeft('wrongport');
  });

  test('an app that never becomes ready fails the deploy with its last log lines', async () => {
    const result = await runner.cli([
      'deploy',
      sampleImageRef('flask'),
      '--name',
      'sleepy',
      '--env',
      'STARTUP_DELAY_MS=60000',
      '--startup-timeout',
      '2',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('function sleepy: the app never became ready');
    await expectNothingLeft('sleepy');
  });

  test('a missing local image is one clear line', async () => {
    const result = await runner.cli(['deploy', 'pilotlight/no-such-image:1', '--pull', 'never']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toBe(
      'runner: image pilotlight/no-such-image:1 is not on this engine and --pull never forbids pulling it [IMAGE_NOT_FOUND]',
    );
  });

  test('bad flags are all named at once, before anything is pulled', async () => {
    const result = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'Bad_Name',
      '--memory',
      'lots',
      '--timeout',
      '9000',
      '--min',
      '3',
      '--max',
      '2',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(
      /name: Bad_Name must be lower-case.*; memory: lots is not a size.*; timeout: 9000 is out of range: allowed 1s–2h; max: 2 is below min 3/,
    );
  });

  test('an active spec beyond the host is capped with a warning', async () => {
    const result = await runner.cli(['deploy', sampleImageRef('scratch'), '--name', 'huge', '--cpus', '16']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /warning: the active spec \(cpus, memory\) asks for 16 CPUs but this host has \d+: using \d+/,
    );
  });

  test('an unknown function is a 404 naming the fix, for the gateway and the CLI', async () => {
    const response = await fetch(`${runner.gateway}/fn/nobody/`);
    expect(response.status).toBe(404);
    const invoke = await runner.cli(['invoke', 'nobody', '--data', '{}']);
    expect(invoke.exitCode).toBe(2);
    expect(invoke.stderr).toContain('no function named "nobody"');
  });
});

describe('runner CLI and gateway against a deployed function', () => {
  let runner: RunnerProcess;
  let url: string;
  beforeAll(async () => {
    runner = await startRunner(docker);
    const deployed = await runner.cli([
      'deploy',
      sampleImageRef('express'),
      '--name',
      'cli',
      '--reserve-after',
      '600',
      '--error-statuses',
      '400-599',
    ]);
    url = deployed.stdout.trim();
  });
  afterAll(() => runner.stop());

  test('the gateway streams both ways: a 5 MiB body echoed byte for byte, a streamed answer in pieces', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    body.write('start', 0);
    const echoed = await fetch(`${url}echo`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(Buffer.from(await echoed.arrayBuffer()).equals(body)).toBe(true);

    const started = Date.now();
    const streamed = await fetch(`${url}stream?count=4&interval=150`);
    const reader = streamed.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += Buffer.from(chunk.value).toString();
    expect(Buffer.from(first.value!).toString() + rest).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
    expect(firstAt).toBeLessThan(Date.now() - started - 300);
  });

  test('invoke: an HTTP-shaped event comes back as a result; a function error is exit code 1', async () => {
    const ok = await runner.cli([
      'invoke',
      'cli',
      '--data',
      JSON.stringify({ httpMethod: 'GET', path: '/' }),
    ]);
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ statusCode: 200, body: 'hello from express\n' });

    const missing = await runner.cli(['invoke', 'cli', '--data', '{"httpMethod":"GET","path":"/nope"}']);
    expect(JSON.parse(missing.stdout).statusCode).toBe(404);
    expect(missing.exitCode).toBe(1); // 404 is in this function's error range, 400-599

    const malformed = await runner.cli(['invoke', 'cli', '--data', '{"httpMethod":']);
    expect(malformed.exitCode).toBe(2);
    expect(malformed.stderr).toContain('the event is not valid JSON');
  });

  test('logs show every instance, prefixed; logs -f follows', async () => {
    const logs = await runner.cli(['logs', 'cli']);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toMatch(/^\[pilotlight-cli-r1-[0-9a-f]+\] express sample listening on 3000$/m);

    const follow = runner.cli(['logs', 'cli', '-f', '--tail', '0']);
    let followed = '';
    follow.stdout?.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    // Lines written after the follow began show up in it: a malformed event, which the adapter logs.
    await until('the malformed event in the followed logs', async () => {
      await runner.cli(['invoke', 'cli', '--data', '{bad', '--content-type', 'application/json']);
      return followed.includes('"code":"MALFORMED_EVENT"') || undefined;
    });
    follow.kill('SIGINT');
    await follow;
  });

  test('scale sets the minimum: a second instance starts and ls shows it', async () => {
    const scaled = await runner.cli(['scale', 'cli', '--min', '2']);
    expect(scaled.stdout.trim()).toBe('cli: min 2 max 10');
    await until('two instances', async () =>
      (await instancesListed(runner, 'cli')).length === 2 ? true : undefined,
    );
    const human = (await runner.cli(['ls'])).stdout.split('\n');
    expect(human[0]).toMatch(/^NAME +REVISION +IMAGE +MIN +MAX +DESIRED +INSTANCES +URL$/);
    expect(human).toContainEqual(expect.stringMatching(/^cli +1 +\S+ +2 +10 +\d+ +2 +http/));
    expect(human).toContainEqual(
      expect.stringMatching(/^INSTANCE +FUNCTION +STATE +CPUS +MEMORY +IN FLIGHT$/),
    );
    expect(
      human.filter((line) => /^pilotlight-cli-r1-[0-9a-f]+ +cli +(active|starting) /.test(line)),
    ).toHaveLength(2);
  });

  test('a redeploy under the same name serves the new image and drains the old revision', async () => {
    const before = (await instancesOf(docker, runner.runnerId, 'cli')).map((info) => info.Id);
    const redeployed = await runner.cli([
      'deploy',
      sampleImageRef('flask'),
      '--name',
      'cli',
      '--reserve-after',
      '600',
    ]);
    expect(redeployed.exitCode).toBe(0);
    expect(redeployed.stderr).toContain('deployed cli revision 2');
    expect(await (await fetch(url)).text()).toBe('hello from flask\n');
    await until('the old revision gone', async () => {
      const now = (await instancesOf(docker, runner.runnerId, 'cli')).map((info) => info.Id);
      return before.every((id) => !now.includes(id)) ? true : undefined;
    });
    const listed = await instancesListed(runner, 'cli');
    expect(listed.length).toBeGreaterThanOrEqual(1);
  });

  test('a release loses no request in flight through the worker an edge reload left finishing it', async () => {
    const deploy = async (fn: string, flags: string[] = []) => {
      const result = await runner.cli(['deploy', sampleImageRef('express'), '--name', fn, ...flags]);
      expect(result.exitCode).toBe(0);
    };
    await deploy('long', ['--min', '1', '--reserve-after', '600']);
    const started = Date.now();
    const inflight = fetch(`${runner.gateway}/fn/long/slow?ms=4000`);
    await until(
      'the request in flight',
      async () =>
        (await instancesListed(runner, 'long')).some((instance) => instance.inflight > 0) || undefined,
    );
    // A new function reloads the edge: the old worker keeps the request to its end.
    await deploy('neighbour');
    // The new revision's rollout drains the old instance: it must wait for that request.
    await deploy('long', ['--min', '1', '--reserve-after', '600', '--env', 'REVISION=2']);
    const response = await inflight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('slept 4000 ms\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
  });

  test('a release is gradual: the new revision serves with as many instances as the old had active before the old stops', async () => {
    const deploy = async (env: string) => {
      const flags = ['--min', '3', '--concurrency', '1', '--reserve-after', '600', '--env', env];
      const result = await runner.cli(['deploy', sampleImageRef('express'), '--name', 'wide', ...flags]);
      expect(result.exitCode).toBe(0);
    };
    await deploy('RELEASE=1');
    await until(
      'three active instances',
      async () =>
        (await instancesListed(runner, 'wide')).filter((item) => item.state === 'active').length === 3 ||
        undefined,
    );
    const prober = startProber(`${runner.gateway}/fn/wide/slow?ms=200`, 5);
    const released = await deploy('RELEASE=2').then(
      () => list(runner),
      async (error: unknown) => {
        await prober.stop();
        throw error;
      },
    );
    const results = await prober.stop();
    const listed = released.find((item) => item.name === 'wide')!;
    const serving = listed.instances.filter((item) => item.state === 'active');
    expect(
      serving.filter((item) => item.name.includes(`-r${listed.revision}-`)).length,
    ).toBeGreaterThanOrEqual(3);
    expect(results.filter((probe) => probe.status !== 200)).toEqual([]);
  });

  test('a request held for a cold start when a release lands is served by the new revision, not refused', async () => {
    const deploy = async (flags: string[]) => {
      const result = await runner.cli(['deploy', sampleImageRef('express'), '--name', 'cold', ...flags]);
      expect(result.exitCode).toBe(0);
    };
    const scaleToZero = ['--min', '0', '--zero-after', '1s', '--reserve-after', '1s'];
    await deploy([...scaleToZero, '--env', 'STARTUP_DELAY_MS=5000']);
    await until('cold at zero instances', async () =>
      (await instancesListed(runner, 'cold')).length === 0 ? true : undefined,
    );
    // Held by the activator while revision 1 starts, for 5 s.
    const held = fetch(`${runner.gateway}/fn/cold/env`);
    await until('the request held', async () => {
      return (await list(runner)).find((item) => item.name === 'cold')?.waiting === 1 || undefined;
    });
    await deploy([...scaleToZero, '--env', 'STARTUP_DELAY_MS=0']);
    const response = await held;
    expect(response.status).toBe(200);
    expect(((await response.json()) as Record<string, string>)['STARTUP_DELAY_MS']).toBe('0');
  });

  test('a request that comes while a function at zero is released waits for the new revision: the old one is not started for it', async () => {
    const scaleToZero = ['--min', '0', '--zero-after', '1s', '--reserve-after', '1s'];
    const deploy = (flags: string[]) =>
      runner.cli(['deploy', sampleImageRef('express'), '--name', 'zeroed', ...scaleToZero, ...flags]);
    expect((await deploy(['--env', 'STARTUP_DELAY_MS=0'])).exitCode).toBe(0);
    await until('zeroed at zero instances', async () =>
      (await instancesListed(runner, 'zeroed')).length === 0 ? true : undefined,
    );
    // Revision 2 takes 3 s to start; revision 1 would start in well under one.
    const releasing = deploy(['--env', 'STARTUP_DELAY_MS=3000']);
    await revisionStarting(docker, runner.runnerId, 'zeroed', 2);
    const answer = await fetch(`${runner.gateway}/fn/zeroed/env`);
    expect((await releasing).exitCode).toBe(0);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as Record<string, string>)['STARTUP_DELAY_MS']).toBe('3000');
    const revisions = (await instancesOf(docker, runner.runnerId, 'zeroed')).map(
      (container) => container.Labels['pilotlight.revision'],
    );
    expect(revisions).toEqual(['2']);
  });

  test('rm drains first: a request in flight completes, then the function is gone', async () => {
    const inflight = fetch(`${url}slow?ms=1500`);
    await until(
      'the request in flight',
      async () =>
        (await instancesListed(runner, 'cli')).some((instance) => instance.inflight > 0) || undefined,
    );
    const removed = await runner.cli(['rm', 'cli']);
    expect(removed.stdout.trim()).toBe('removed cli');
    const response = await inflight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('slept 1500 ms\n');
    expect(await instancesOf(docker, runner.runnerId, 'cli')).toHaveLength(0);
    expect((await fetch(url)).status).toBe(404);
  });
});

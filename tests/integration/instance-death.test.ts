import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { ADAPTER_EXIT } from '../../adapter/contract/contract.js';
import { edgeServerStates } from '../helpers/edge-servers.js';
import { sampleImageRef, type SampleName } from '../../images/catalog.js';
import { startProber } from '../../bench/load.js';
import { startAdapterInstance, type AdapterInstance } from '../helpers/adapter-instance.js';
import { startEngineProxy, type EngineProxy } from '../helpers/engine-proxy.js';
import { runRunner } from '../helpers/runner-cli.js';
import { instancesOf, startRunner, until, type RunnerProcess } from '../helpers/runner-process.js';
import { execIn, testDocker } from '../helpers/test-docker.js';
import { getOnOwnConnection } from '../helpers/own-connection.js';

const docker = testDocker();

interface ListedFunction {
  name: string;
  deaths: number;
  lastDeath: { instance: string; reason: string } | null;
  instances: Array<{ id: string; name: string; state: string; address: string }>;
}

interface InstanceEvent {
  at: number;
  instance: string;
  action: string;
  detail: {
    reason?: string;
    exitCode?: number | null;
    oomKilled?: boolean;
    noticedBy?: string;
    logTail?: string;
  };
}

async function listed(runner: RunnerProcess, fn: string): Promise<ListedFunction> {
  const result = await runner.cli(['ls', '--json']);
  expect(result.exitCode).toBe(0);
  const found = (JSON.parse(result.stdout) as ListedFunction[]).find((item) => item.name === fn);
  if (!found) throw new Error(`${fn} is not listed`);
  return found;
}

async function events(runner: RunnerProcess, fn: string): Promise<InstanceEvent[]> {
  const result = await runner.cli(['events', fn, '--json']);
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as InstanceEvent[];
}

async function deploy(
  runner: RunnerProcess,
  fn: string,
  sample: SampleName,
  flags: string[] = [],
): Promise<void> {
  const result = await runner.cli([
    'deploy',
    sampleImageRef(sample),
    '--name',
    fn,
    '--reserve-after',
    '600',
    ...flags,
  ]);
  if (result.exitCode !== 0) throw new Error(`deploy of ${fn} failed:\n${result.all}`);
}

/** The single instance of `fn` once it is active and is not `not` (a replacement); its listing. */
function activeInstance(runner: RunnerProcess, fn: string, not?: string, timeoutMs = 20_000) {
  return until(
    `an active instance of ${fn}${not ? ` other than ${not}` : ''}`,
    async () => {
      const found = (await listed(runner, fn)).instances.find(
        (instance) => instance.state === 'active' && instance.name !== not,
      );
      return found;
    },
    timeoutMs,
  );
}

async function containerGone(id: string): Promise<boolean> {
  return docker
    .getContainer(id)
    .inspect()
    .then(
      () => false,
      () => true,
    );
}

/** Whether the edge still has a server in service at this instance's address. */
async function edgeRoutesTo(runner: RunnerProcess, fn: string, address: string): Promise<boolean> {
  const ip = new URL(address).hostname;
  // Admin state (field 6) bit 1 is maint.
  return (await edgeServerStates(runner.dataDir, fn)).some(
    (fields) => fields[4] === ip && (Number(fields[6]) & 1) === 0,
  );
}

/** A TCP connection attempt from inside a container (with the Node of the express sample): its outcome. */
function connectFrom(container: Docker.Container, address: string): Promise<string> {
  const [host, port] = address.replace('http://', '').split(':');
  const script =
    `const s=require('net').connect(${port},'${host}');` +
    `s.on('connect',()=>{console.log('connected');process.exit(0)});` +
    `s.on('error',(e)=>{console.log(e.code);process.exit(0)});` +
    `setTimeout(()=>{console.log('timed out');process.exit(0)},2000);`;
  return execIn(container, ['node', '-e', script]);
}

describe('a dead instance is noticed at once (events through a proxy that can drop them; sweep every 10 min)', () => {
  let proxy: EngineProxy;
  let runner: RunnerProcess;

  beforeAll(async () => {
    proxy = await startEngineProxy();
    runner = await startRunner(docker, { env: { DOCKER_HOST: proxy.dockerHost }, sweepMs: 600_000 });
  });

  afterAll(async () => {
    await runner?.stop();
    await proxy?.close();
  });

  test('a crash of the only --min 1 instance: replaced at once, nothing sent after the crash fails, the death is told', async () => {
    await deploy(runner, 'crashy', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'crashy');
    const prober = startProber(`${runner.gateway}/fn/crashy/`, 20);
    await until('the prober is served', async () => prober.results.some((probe) => probe.status === 200));

    const crash = await getOnOwnConnection(`${runner.gateway}/fn/crashy/crash`, {
      'x-request-id': 'crash-1',
    });
    expect(crash.status).toBe(502);
    expect(crash.headers['x-request-id']).toBe('crash-1');
    const crashAnswered = performance.now();
    await until('a 200 from a request sent after the crash', async () =>
      prober.results.some((probe) => probe.sentAt > crashAnswered && probe.status === 200),
    );
    const results = await prober.stop();
    const failedAfter = results.filter((probe) => probe.sentAt > crashAnswered && probe.status !== 200);
    expect(failedAfter).toEqual([]);

    const replacement = await activeInstance(runner, 'crashy', first.name);
    const fn = await listed(runner, 'crashy');
    // Requests held while it was replaced count as demand: the autoscaler may add one more; never the dead one.
    expect(fn.instances.map((instance) => instance.name)).toContain(replacement.name);
    expect(fn.instances.map((instance) => instance.name)).not.toContain(first.name);
    expect(fn.deaths).toBe(1);
    expect(fn.lastDeath).toMatchObject({ instance: first.name, reason: 'exited with code 3' });
    expect(await containerGone(first.id)).toBe(true);

    const died = (await events(runner, 'crashy')).find((event) => event.action === 'die');
    expect(died).toMatchObject({ instance: first.name, detail: { exitCode: 3, oomKilled: false } });
    expect(died!.detail.logTail).toContain('crashing on request');
    const text = await runner.cli(['events', 'crashy']);
    expect(text.stdout).toContain(`${first.name}  die: exited with code 3`);
    expect(text.stdout).toContain('| crashing on request');
    expect((await runner.cli(['ls'])).stdout).toContain(
      `crashy: 1 died; last: ${first.name} exited with code 3`,
    );
  });

  test('a container removed or killed behind the runner’s back is replaced', async () => {
    await deploy(runner, 'vanish', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'vanish');
    await docker.getContainer(first.id).remove({ force: true });
    const second = await activeInstance(runner, 'vanish', first.name);
    await docker.getContainer(second.id).kill();
    const third = await activeInstance(runner, 'vanish', second.name);
    expect((await fetch(`${runner.gateway}/fn/vanish/`)).status).toBe(200);
    const deaths = (await events(runner, 'vanish')).filter((event) => event.action === 'die');
    expect(deaths.map((event) => event.instance)).toEqual([first.name, second.name]);
    expect(deaths[1]!.detail).toMatchObject({ exitCode: 137, reason: 'exited with code 137 (signal 9)' });
    expect(third.name).not.toBe(first.name);
  });

  test('the event stream is reopened after it is cut (an engine restart), and a death meanwhile is caught', async () => {
    await deploy(runner, 'reconnect', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'reconnect');
    const opened = proxy.eventStreamsOpened();
    proxy.holdEvents();
    proxy.cutEvents();
    await docker.getContainer(first.id).kill();
    proxy.releaseEvents();
    await until(
      'the runner reopened its event stream',
      async () => proxy.eventStreamsOpened() > opened || undefined,
    );
    const second = await activeInstance(runner, 'reconnect', first.name);
    // The reopened stream itself carries the next death: the sweep runs only every ten minutes here.
    await docker.getContainer(second.id).kill();
    await activeInstance(runner, 'reconnect', second.name);
    const deaths = (await events(runner, 'reconnect')).filter((event) => event.action === 'die');
    expect(deaths.map((event) => event.instance)).toEqual([first.name, second.name]);
    expect(['die', 'kill']).toContain(deaths[1]!.detail.noticedBy);
  });

  test('an instance whose network is removed is noticed at once, and replaced on the network made again', async () => {
    await deploy(runner, 'cutoff', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'cutoff');
    const [network] = await docker.listNetworks({
      filters: { label: [`pilotlight.runner=${runner.runnerId}`, 'pilotlight.function=cutoff'] },
    });
    const cutAt = Date.now();
    await docker.getNetwork(network!.Id).disconnect({ Container: first.id, Force: true });
    await docker.getNetwork(network!.Id).remove();
    await activeInstance(runner, 'cutoff', first.name);
    expect((await fetch(`${runner.gateway}/fn/cutoff/`)).status).toBe(200);
    const died = (await events(runner, 'cutoff')).find((event) => event.action === 'die');
    expect(died?.detail).toMatchObject({ noticedBy: 'detached' });
    expect(died?.detail.reason).toContain('lost its network');
    // The engine's disconnect event, not the ten-minute sweep.
    expect(died!.at - cutAt).toBeLessThan(2000);
    expect(await containerGone(first.id)).toBe(true);
    const again = await docker.listNetworks({ filters: { name: [network!.Name] } });
    expect(again.map((found) => found.Name)).toContain(network!.Name);
  });

  test('never another container at a reused address: the caller gets its own function’s replacement', async () => {
    await deploy(runner, 'owner', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'owner');
    proxy.holdEvents(); // the runner must not learn of the death from the engine: the address check must hold
    let intruder: AdapterInstance | undefined;
    try {
      await docker.getContainer(first.id).kill();
      // The kill is only sent when it answers: the address is free once the container has stopped.
      await docker.getContainer(first.id).wait({ condition: 'not-running' });
      // A container on the function's own network can take the freed address, and that is what the name on
      // every call is for (another function's never can: see below).
      const network = `pilotlight-${runner.runnerId}-owner`;
      intruder = await startAdapterInstance(
        docker,
        sampleImageRef('flask'),
        'mount',
        { PILOTLIGHT_INSTANCE: 'intruder' },
        { network },
      );
      const intruderInfo = await intruder.container.inspect();
      expect(`http://${intruderInfo.NetworkSettings.Networks[network]!.IPAddress}:9000`).toBe(first.address);

      const answers = await Promise.all(
        Array.from({ length: 3 }, () =>
          fetch(`${runner.gateway}/fn/owner/`).then(async (r) => [r.status, await r.text()]),
        ),
      );
      for (const [status, body] of answers) {
        expect(body).not.toContain('flask');
        if (status === 200) expect(body).toBe('hello from express\n');
        else expect(status).toBe(503);
      }
      expect(answers.some(([status]) => status === 200)).toBe(true);
      const stats = (await (await fetch(`${intruder.url}/_/stats`)).json()) as { requests: number };
      expect(stats.requests).toBe(0);
      // The intruder refuses a call made in the dead instance's name. The runner learns of the death either
      // that way or from the edge's own check of the address (whichever asks first): never from the engine.
      const named = await fetch(`${intruder.url}/_/health`, {
        headers: { 'x-pilotlight-instance': first.name },
      });
      expect(named.headers.get('x-pilotlight-error')).toBe('INSTANCE_MISMATCH');
      const died = (await events(runner, 'owner')).find((event) => event.action === 'die');
      expect(['INSTANCE_MISMATCH', 'EDGE_DOWN']).toContain(died?.detail.noticedBy);

      // Another function deployed now never gets the freed address: it is on a network of its own.
      await deploy(runner, 'other', 'flask', ['--min', '1']);
      expect((await activeInstance(runner, 'other')).address).not.toBe(first.address);
    } finally {
      proxy.releaseEvents();
      await intruder?.remove();
    }
  });

  test('an app that stops answering (an endless loop) is replaced: reached straight, the edge finds it; on loopback, its adapter does', async () => {
    const cases = [
      { fn: 'hangs', flags: [], noticedBy: ['stuck'] },
      // Its adapter times the request out too, and exits 69 at once; the edge may see it first.
      { fn: 'hangs-local', flags: ['--env', 'HOST=127.0.0.1'], noticedBy: ['die', 'stuck'] },
    ];
    for (const { fn, flags, noticedBy } of cases) {
      await deploy(runner, fn, 'express', ['--min', '1', '--timeout', '2s', ...flags]);
      const first = await activeInstance(runner, fn);
      const prober = startProber(`${runner.gateway}/fn/${fn}/`, 10);
      await until('the prober is served', async () => prober.results.some((probe) => probe.status === 200));

      const hangSent = performance.now();
      const hang = await fetch(`${runner.gateway}/fn/${fn}/hang`);
      expect(hang.status).toBe(504);
      expect(hang.headers.get('x-pilotlight-error')).toBe('TIMEOUT');
      // Queued requests may scale the function out meanwhile: what matters is that the stuck one goes.
      const death = await until(`the death of ${first.name}`, async () => {
        const { lastDeath } = await listed(runner, fn);
        return lastDeath?.instance === first.name ? lastDeath : undefined;
      });
      const gone = performance.now();
      expect(death.reason).toMatch(/^stopped answering/);
      await activeInstance(runner, fn, first.name);
      await until('a 200 from a request sent after the death', async () =>
        prober.results.some((probe) => probe.sentAt > gone && probe.status === 200),
      );
      const results = await prober.stop();
      const failed = results.filter((probe) => probe.status !== 200);
      // Requests sent to the stuck app fail (504, or 502 as it is stopped); none sent once it is gone.
      expect(failed.filter((probe) => probe.sentAt > gone)).toEqual([]);
      expect(failed.every((probe) => probe.sentAt > hangSent - 200)).toBe(true);
      expect((await listed(runner, fn)).instances.map((instance) => instance.name)).not.toContain(first.name);
      const died = (await events(runner, fn)).find((event) => event.action === 'die');
      expect(died).toMatchObject({ instance: first.name });
      expect(noticedBy).toContain(died!.detail.noticedBy);
      if (died!.detail.noticedBy === 'die') expect(died!.detail.exitCode).toBe(ADAPTER_EXIT.appStuck);
      expect(died!.detail.logTail).toContain('hanging on request');
      expect(await containerGone(first.id)).toBe(true);
      expect((await fetch(`${runner.gateway}/fn/${fn}/`)).status).toBe(200);
    }
  });

  test('a client that stalls its upload past the timeout gets its 504, and the healthy instance stays (it answers a probe)', async () => {
    await deploy(runner, 'stalled', 'express', ['--min', '1', '--timeout', '2s']);
    const first = await activeInstance(runner, 'stalled');
    const { port } = new URL(runner.gateway);
    // Twice: the second surely comes a whole timeout after the instance's last answer, as the edge counts.
    for (let stall = 0; stall < 2; stall++) {
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
        socket.write(
          'POST /fn/stalled/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 34\r\n\r\nabcde',
        );
      });
      expect(answer).toMatch(/^HTTP\/1.1 504 /);
    }
    await until(
      'the runner probed the app and left it alone',
      async () => runner.output().includes('the app answers a probe: left alone') || undefined,
    );
    const listing = await listed(runner, 'stalled');
    expect(listing.deaths).toBe(0);
    expect(listing.instances.map((instance) => instance.name)).toEqual([first.name]);
    expect((await fetch(`${runner.gateway}/fn/stalled/`)).status).toBe(200);
  });

  test('an app that exceeds its memory limit: 502, replaced, the event names the limit (and so does the 502 through the adapter)', async () => {
    await deploy(runner, 'hog', 'express', ['--min', '1', '--memory', '128m', '--reserved-memory', '64m']);
    const first = await activeInstance(runner, 'hog');
    // Straight from the edge to the app: the edge sees a connection cut, not why.
    const answer = await getOnOwnConnection(`${runner.gateway}/fn/hog/oom`);
    expect(answer.status).toBe(502);
    expect(answer.headers['x-pilotlight-error']).toBe('APP_UNREACHABLE');
    await activeInstance(runner, 'hog', first.name);
    // An app on loopback is reached through its adapter, which reads the OOM kill from its cgroup.
    await deploy(runner, 'hog-local', 'express', [
      '--min',
      '1',
      '--memory',
      '128m',
      '--reserved-memory',
      '64m',
      '--env',
      'HOST=127.0.0.1',
    ]);
    const viaAdapter = await getOnOwnConnection(`${runner.gateway}/fn/hog-local/oom`);
    expect(viaAdapter.status).toBe(502);
    expect(viaAdapter.headers['x-pilotlight-error']).toBe('APP_OOM_KILLED');
    expect(viaAdapter.body).toContain('memory limit exceeded (128m)');
    const died = await until('the death event', async () =>
      (await events(runner, 'hog')).find((event) => event.action === 'die'),
    );
    expect(died.detail).toMatchObject({
      oomKilled: true,
      reason: 'was OOM-killed: memory limit exceeded (128m)',
    });
    expect(died.detail.logTail).toContain('allocating until killed');
  });

  test('instances that keep dying back off, doubling, and meanwhile requests get a 503 naming the exit code', async () => {
    await deploy(runner, 'loop', 'express', ['--min', '1', '--max', '1']);
    let current = await activeInstance(runner, 'loop');
    for (let crash = 1; crash <= 3; crash++) {
      await until('the instance in service at the edge', async () =>
        (await edgeRoutesTo(runner, 'loop', current.address)) ? true : undefined,
      );
      // From the second crash on, the activator may answer instead, from the function's backoff.
      const crashed = await getOnOwnConnection(`${runner.gateway}/fn/loop/crash`);
      expect(`${crashed.status} ${crashed.headers['x-pilotlight-error']}`).toMatch(
        crash === 1 ? /^502 APP_UNREACHABLE$/ : /^(502 APP_UNREACHABLE|503 CRASH_LOOP)$/,
      );
      if (crash >= 2) {
        // "Meanwhile": once the edge no longer sends to the dead instance. A request in the moment before can
        // still meet the dead app's connection (502, or on a kept-alive connection a close unanswered).
        await until('the dead instance out of the edge', async () =>
          (await edgeRoutesTo(runner, 'loop', current.address)) ? undefined : true,
        );
        const refused = await getOnOwnConnection(`${runner.gateway}/fn/loop/`);
        expect(refused.status).toBe(503);
        expect(refused.headers['x-pilotlight-error']).toBe('CRASH_LOOP');
        const message = (JSON.parse(refused.body) as { error: { message: string } }).error.message;
        expect(message).toContain('keeps crashing: its last instance exited with code 3');
        expect(message).toContain(`${crash} deaths in a row`);
      }
      current = await activeInstance(runner, 'loop', current.name);
    }
    const history = await events(runner, 'loop');
    const gaps = history
      .filter((event) => event.action === 'die')
      .map(
        (death) => history.find((event) => event.action === 'start' && event.at > death.at)!.at - death.at,
      );
    // The first death is replaced at once; then 1 s, then 2 s before the next start is even begun.
    expect(gaps[1]).toBeGreaterThanOrEqual(1000);
    expect(gaps[2]).toBeGreaterThanOrEqual(2000);
    expect(gaps[0]).toBeLessThan(gaps[1]!);
  });

  test('an instance paused by someone else is woken by the next request instead of hanging it', async () => {
    await deploy(runner, 'paused', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'paused');
    await docker.getContainer(first.id).pause();
    await until(
      'the runner sees it frozen',
      async () =>
        (await listed(runner, 'paused')).instances.some((item) => item.state === 'frozen') || undefined,
    );
    const answer = await fetch(`${runner.gateway}/fn/paused/`, { signal: AbortSignal.timeout(5000) });
    expect(answer.status).toBe(200);
    expect((await docker.getContainer(first.id).inspect()).State.Paused).toBe(false);
    expect((await listed(runner, 'paused')).instances.map((item) => item.name)).toEqual([first.name]);
  });

  test('a second runner on the same data directory refuses at once and touches nothing', async () => {
    const before = (await instancesOf(docker, runner.runnerId, 'crashy')).map((info) => info.Id);
    const second = await runRunner(
      ['up', '--data-dir', runner.dataDir, '--port', '0', '--control-port', '0'],
      {
        DOCKER_HOST: proxy.dockerHost,
      },
    );
    expect(second.exitCode).toBe(2);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain(
      `a runner (pid ${runner.process.pid}) is already up with ${runner.dataDir}`,
    );
    expect((await instancesOf(docker, runner.runnerId, 'crashy')).map((info) => info.Id)).toEqual(before);
    expect((await fetch(`${runner.gateway}/fn/crashy/`)).status).toBe(200);
  });

  test('each function has its own network: one function’s instance cannot reach another’s', async () => {
    await deploy(runner, 'neta', 'express', ['--min', '1']);
    await deploy(runner, 'netb', 'flask', ['--min', '1']);
    const a = await activeInstance(runner, 'neta');
    const b = await activeInstance(runner, 'netb');
    const container = docker.getContainer(a.id);
    const inspectA = await container.inspect();
    const inspectB = await docker.getContainer(b.id).inspect();
    expect(Object.keys(inspectA.NetworkSettings.Networks)).toEqual([`pilotlight-${runner.runnerId}-neta`]);
    expect(Object.keys(inspectB.NetworkSettings.Networks)).toEqual([`pilotlight-${runner.runnerId}-netb`]);
    // The probe works: the instance reaches its own adapter, and the runner's host reaches the other one.
    expect(await connectFrom(container, a.address)).toBe('connected');
    expect((await fetch(`${b.address}/_/health`)).status).toBe(200);
    expect(await connectFrom(container, b.address)).not.toBe('connected');
    expect(await connectFrom(container, b.address.replace(':9000', ':5000'))).not.toBe('connected');
    await runner.cli(['rm', 'netb']);
    const networks = await docker.listNetworks({ filters: { name: [`pilotlight-${runner.runnerId}-netb`] } });
    expect(networks).toEqual([]);
  });
});

describe('a lost event is caught by the periodic sweep', () => {
  let proxy: EngineProxy;
  let runner: RunnerProcess;

  beforeAll(async () => {
    proxy = await startEngineProxy();
    proxy.holdEvents(); // the engine's events never reach this runner
    runner = await startRunner(docker, { env: { DOCKER_HOST: proxy.dockerHost }, sweepMs: 1000 });
  });

  afterAll(async () => {
    await runner?.stop();
    await proxy?.close();
  });

  test('a killed instance is found by listing within a few seconds and replaced', async () => {
    await deploy(runner, 'swept', 'express', ['--min', '1']);
    const first = await activeInstance(runner, 'swept');
    const killedAt = Date.now();
    await docker.getContainer(first.id).kill();
    await activeInstance(runner, 'swept', first.name);
    const died = (await events(runner, 'swept')).find((event) => event.action === 'die');
    expect(died?.detail).toMatchObject({ noticedBy: 'sweep', exitCode: 137 });
    expect(died!.at - killedAt).toBeLessThan(3000);
    expect((await instancesOf(docker, runner.runnerId, 'swept')).map((info) => info.Id)).not.toContain(
      first.id,
    );
  });
});

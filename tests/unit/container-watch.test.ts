import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, test } from '@jest/globals';
import { ContainerWatch, parseEvent, type GoneCause } from '../../runner/src/instances/container-watch.js';

/** An engine whose event streams and container list the test controls. */
class FakeEngine {
  streams: PassThrough[] = [];
  sinces: Array<number | undefined> = [];
  containers: Array<{ id: string; state: string; networked?: boolean }> = [];
  lists = 0;
  listGate: Promise<void> = Promise.resolve();
  refuse = false;

  source = {
    events: async (since: number | undefined) => {
      this.sinces.push(since);
      if (this.refuse) throw new Error('connect ENOENT /var/run/docker.sock');
      const stream = new PassThrough();
      this.streams.push(stream);
      return stream;
    },
    list: async () => {
      this.lists += 1;
      const snapshot = [...this.containers];
      await this.listGate;
      return snapshot;
    },
  };

  emit(event: Record<string, unknown>): void {
    this.streams.at(-1)!.write(`${JSON.stringify(event)}\n`);
  }
}

function containerEvent(
  id: string,
  action: string,
  attributes: Record<string, string> = {},
  time = 1700000000,
) {
  return { Type: 'container', Action: action, Actor: { ID: id, Attributes: attributes }, time };
}

/** The engine's network event; `container` is set on connect and disconnect. */
function networkEvent(action: string, container?: string) {
  const attributes = { name: 'pilotlight-r-fn', type: 'bridge', ...(container ? { container } : {}) };
  return {
    Type: 'network',
    Action: action,
    Actor: { ID: 'net-1', Attributes: attributes },
    time: 1700000000,
  };
}

const watches: ContainerWatch[] = [];
afterEach(() => watches.splice(0).forEach((watch) => watch.stop()));

function watch(engine: FakeEngine, tracked: string[]) {
  const gone: Array<{ id: string; cause: GoneCause }> = [];
  const oom: string[] = [];
  const w = new ContainerWatch({
    source: engine.source,
    tracked: () => tracked,
    onGone: (id, cause) => gone.push({ id, cause }),
    onOom: (id) => oom.push(id),
    log: () => {},
    sweepMs: 3_600_000,
    reconnectDelaysMs: [1],
  });
  watches.push(w);
  return { w, gone, oom };
}

/** A watch that reports the orphans it finds. */
function watchOrphans(engine: FakeEngine, tracked: string[]) {
  const orphans: string[] = [];
  const w = new ContainerWatch({
    source: engine.source,
    tracked: () => tracked,
    onGone: () => {},
    onOom: () => {},
    onOrphan: (id) => orphans.push(id),
    log: () => {},
    sweepMs: 3_600_000,
  });
  watches.push(w);
  return { w, orphans };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(check()).toBe(true);
}

describe('container watch', () => {
  test('die, destroy and a terminating kill report the container gone; other signals and events do not', async () => {
    const engine = new FakeEngine();
    engine.containers = [{ id: 'a', state: 'running' }];
    const { w, gone, oom } = watch(engine, ['a']);
    await w.start();
    engine.emit(containerEvent('a', 'kill', { signal: '1' }));
    engine.emit(containerEvent('a', 'exec_start: sh -c true'));
    engine.emit(containerEvent('a', 'oom'));
    engine.emit(containerEvent('a', 'kill', { signal: '15' }));
    engine.emit(containerEvent('a', 'die', { exitCode: '137' }));
    engine.emit(containerEvent('b', 'destroy'));
    await until(() => gone.length === 3);
    expect(oom).toEqual(['a']);
    expect(gone).toEqual([
      { id: 'a', cause: { via: 'event', action: 'kill', signal: '15' } },
      { id: 'a', cause: { via: 'event', action: 'die', exitCode: 137 } },
      { id: 'b', cause: { via: 'event', action: 'destroy' } },
    ]);
  });

  test('a line split across chunks is read whole', async () => {
    const engine = new FakeEngine();
    const { w, gone } = watch(engine, []);
    await w.start();
    const line = `${JSON.stringify(containerEvent('a', 'die', { exitCode: '3' }))}\n`;
    engine.streams[0]!.write(line.slice(0, 20));
    engine.streams[0]!.write(line.slice(20));
    await until(() => gone.length === 1);
    expect(gone[0]!.cause).toEqual({ via: 'event', action: 'die', exitCode: 3 });
  });

  test('after the stream ends (an engine restart) it reconnects from the last event and sweeps', async () => {
    const engine = new FakeEngine();
    engine.containers = [{ id: 'a', state: 'running' }];
    const { w, gone } = watch(engine, ['a']);
    await w.start();
    engine.emit(containerEvent('x', 'kill', { signal: '1' }, 1700000042));
    await until(() => engine.lists >= 1);
    engine.refuse = true;
    engine.streams[0]!.end();
    await until(() => engine.sinces.length >= 3);
    // While it was away, the container exited: the sweep on reconnecting finds it.
    engine.containers = [{ id: 'a', state: 'exited' }];
    engine.refuse = false;
    await until(() => engine.streams.length === 2);
    expect(engine.sinces[0]).toBeUndefined();
    expect(engine.sinces.slice(1).every((since) => since === 1700000042)).toBe(true);
    await until(() => gone.length === 1);
    expect(gone[0]).toEqual({ id: 'a', cause: { via: 'sweep', state: 'exited' } });
  });

  test('the sweep reports tracked containers that are absent or stopped, and only those', async () => {
    const engine = new FakeEngine();
    engine.containers = [
      { id: 'running', state: 'running' },
      { id: 'frozen', state: 'paused' },
      { id: 'dead', state: 'exited' },
      { id: 'untracked', state: 'exited' },
    ];
    const { w, gone } = watch(engine, ['running', 'frozen', 'dead', 'removed']);
    await w.sweep();
    expect(gone.map((item) => item.id).sort()).toEqual(['dead', 'removed']);
  });

  test('a tracked container that runs on no network (its network was removed) is reported detached', async () => {
    const engine = new FakeEngine();
    engine.containers = [
      { id: 'cut-off', state: 'running', networked: false },
      { id: 'frozen-cut-off', state: 'paused', networked: false },
      { id: 'fine', state: 'running', networked: true },
      { id: 'untracked', state: 'running', networked: false },
    ];
    const { w, gone } = watch(engine, ['cut-off', 'frozen-cut-off', 'fine']);
    await w.sweep();
    expect(gone).toEqual([
      { id: 'cut-off', cause: { via: 'detached' } },
      { id: 'frozen-cut-off', cause: { via: 'detached' } },
    ]);
  });

  test('a stopped container nothing tracks is an orphan once two sweeps in a row have seen it', async () => {
    const engine = new FakeEngine();
    engine.containers = [
      { id: 'left', state: 'exited' },
      { id: 'mine', state: 'exited' },
      { id: 'booting', state: 'created' },
    ];
    const { w, orphans } = watchOrphans(engine, ['mine']);
    await w.sweep();
    expect(orphans).toEqual([]);
    await w.sweep();
    expect(orphans).toEqual(['left']);
  });

  test('a container never started that nothing tracks is an orphan only after ten sweeps in a row', async () => {
    const engine = new FakeEngine();
    engine.containers = [
      { id: 'left-created', state: 'created' },
      { id: 'started-in-time', state: 'created' },
    ];
    const { w, orphans } = watchOrphans(engine, []);
    for (let sweep = 1; sweep <= 9; sweep++) await w.sweep();
    engine.containers[1]!.state = 'running';
    expect(orphans).toEqual([]);
    await w.sweep();
    expect(orphans).toEqual(['left-created']);
  });

  test('a container tracked after the list was taken is not judged by it', async () => {
    const engine = new FakeEngine();
    const tracked: string[] = [];
    const gone: string[] = [];
    let open!: () => void;
    engine.listGate = new Promise((resolve) => (open = resolve));
    const w = new ContainerWatch({
      source: engine.source,
      tracked: () => tracked,
      onGone: (id) => gone.push(id),
      onOom: () => {},
      log: () => {},
      sweepMs: 3_600_000,
    });
    watches.push(w);
    tracked.push('old');
    const sweep = w.sweep();
    tracked.push('new'); // created and tracked while the list was on its way
    open();
    await sweep;
    expect(gone).toEqual(['old']);
  });

  test('a tracked container cut from a network is swept at once, and is gone if it is on none', async () => {
    const engine = new FakeEngine();
    engine.containers = [
      { id: 'cut', state: 'running', networked: true },
      { id: 'other', state: 'running', networked: false },
    ];
    const { w, gone } = watch(engine, ['cut']);
    await w.start();
    await until(() => engine.lists === 1); // the sweep on connecting
    engine.emit(networkEvent('disconnect', 'other')); // not tracked: no sweep
    engine.emit(networkEvent('disconnect', 'cut')); // still on another network: not gone
    await until(() => engine.lists === 2);
    expect(gone).toEqual([]);

    engine.containers = [{ id: 'cut', state: 'running', networked: false }];
    engine.emit(networkEvent('disconnect', 'cut'));
    await until(() => gone.length === 1);
    expect(engine.lists).toBe(3);
    expect(gone).toEqual([{ id: 'cut', cause: { via: 'detached' } }]);
  });

  test('a sweep asked for during another runs again after it, with a fresh list', async () => {
    const engine = new FakeEngine();
    let open!: () => void;
    engine.listGate = new Promise((resolve) => (open = resolve));
    engine.containers = [{ id: 'cut', state: 'running', networked: true }];
    const { w, gone } = watch(engine, ['cut']);
    const first = w.sweep();
    engine.containers = [{ id: 'cut', state: 'running', networked: false }];
    await w.start(); // its own sweep finds one under way
    expect(engine.lists).toBe(1);
    engine.listGate = Promise.resolve();
    open();
    await first;
    await until(() => gone.length === 1);
    expect(engine.lists).toBe(2);
    expect(gone[0]).toEqual({ id: 'cut', cause: { via: 'detached' } });
  });

  test('parseEvent ignores what is not a container event', () => {
    expect(parseEvent('not json')).toBeUndefined();
    expect(
      parseEvent(JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } })),
    ).toBeUndefined();
    expect(parseEvent(JSON.stringify(networkEvent('disconnect', 'c')))).toEqual({
      id: 'c',
      action: 'disconnect',
      time: 1700000000,
    });
    expect(parseEvent(JSON.stringify(networkEvent('destroy')))).toBeUndefined();
    expect(parseEvent(JSON.stringify(containerEvent('a', 'health_status: unhealthy')))?.action).toBe(
      'health_status',
    );
  });
});

import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { testRuntime } from '../helpers/adapter-instance.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The native launcher, run on the host as an instance's ENTRYPOINT runs it: launch NODE ADAPTER -- ARGS, with the
 * real adapter bundle and a small Node app that reports what it was given.
 */
const APP = `
const http = require('node:http');
const fs = require('node:fs');
const seen = { argv: process.argv.slice(2), ppid: process.ppid, secret: process.env.SECRET,
  pilotlightEnv: Object.keys(process.env).filter((name) => name.startsWith('PILOTLIGHT_')) };
fs.writeFileSync(process.env.SEEN_FILE, JSON.stringify(seen));
console.log('app says hello on stdout');
console.error('app says hello on stderr');
process.on('SIGTERM', () => { console.log('app got SIGTERM'); process.exit(0); });
if (process.env.EXIT_WITH) setTimeout(() => process.exit(Number(process.env.EXIT_WITH)), 300);
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Launched {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
  adapterPort: () => Promise<number>;
  seen: () => { argv: string[]; ppid: number; secret?: string; pilotlightEnv: string[] };
}

const dir = tempDir('launcher');
const appScript = join(dir, 'app.js');
writeFileSync(appScript, APP);
const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function launch(
  entrypoint: string[],
  args: string[],
  env: Record<string, string> = {},
): Promise<Launched> {
  const runtime = await testRuntime();
  expect(runtime.launcher).toBe(true);
  const seenFile = join(dir, `seen-${Math.random().toString(36).slice(2)}.json`);
  const child = spawn(
    join(runtime.dir, 'launch'),
    [process.execPath, join(runtime.dir, 'adapter.mjs'), '--', ...args],
    {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        PORT: String(await freePort()),
        SEEN_FILE: seenFile,
        PILOTLIGHT_PORT: '0',
        PILOTLIGHT_HOST: '127.0.0.1',
        PILOTLIGHT_APP_ENTRYPOINT: JSON.stringify(entrypoint),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exit,
    adapterPort: async () => {
      await until(
        () => /"port":\d+/.test(output),
        () => output,
      );
      return Number(/"port":(\d+)/.exec(output)![1]);
    },
    seen: () => JSON.parse(readFileSync(seenFile, 'utf8')),
  };
}

async function until(condition: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out; output so far:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function ready(launched: Launched): Promise<void> {
  const port = await launched.adapterPort();
  const response = await fetch(`http://127.0.0.1:${port}/_/ready?wait=10000`);
  expect(response.status).toBe(200);
}

describe('the native launcher', () => {
  test('starts the app itself, with exactly its arguments and no PILOTLIGHT_ settings, and passes its output on', async () => {
    const tricky = ['a "quoted" \\ word', 'é ✓ 😀', 'tab\there', '', '--', '$HOME'];
    const launched = await launch([process.execPath, appScript, ...tricky], ['cmd arg'], {
      PILOTLIGHT_LOG_RATE: '1048576',
    });
    await ready(launched);
    const seen = launched.seen();
    expect(seen.argv).toEqual([...tricky, 'cmd arg']);
    // The launcher is the app's parent: the app started before Node did.
    expect(seen.ppid).toBe(launched.child.pid);
    expect(seen.pilotlightEnv).toEqual([]);
    await until(() => /app says hello on stderr/.test(launched.output()), launched.output);
    expect(launched.output()).toContain('app says hello on stdout');
  });

  test('an app that exits takes the instance with it, with its exit code and the reason in the log', async () => {
    const launched = await launch([process.execPath, appScript], [], { EXIT_WITH: '3' });
    expect(await launched.exit).toBe(3);
    expect(launched.output()).toContain('app exited, instance going away');
    expect(launched.output()).toContain('the app exited with code 3');
  });

  test('an app command that cannot run is named, as the adapter names it', async () => {
    const launched = await launch(['/no/such/app'], ['x']);
    expect(await launched.exit).toBe(127);
    expect(launched.output()).toMatch(/the app could not be started \(\/no\/such\/app x\): ENOENT/);
  });

  test('SIGTERM drains: the adapter stops the app, and the launcher exits 0', async () => {
    const launched = await launch([process.execPath, appScript], []);
    await ready(launched);
    launched.child.kill('SIGTERM');
    expect(await launched.exit).toBe(0);
    expect(launched.output()).toContain('app got SIGTERM');
  });

  test('an adapter killed with -9 takes the app with it', async () => {
    const launched = await launch([process.execPath, appScript], []);
    await ready(launched);
    const appPid = appPidOf(launched);
    const adapterPid = childrenOf(launched.child.pid!).find((pid) => pid !== appPid)!;
    process.kill(adapterPid, 'SIGKILL');
    expect(await launched.exit).toBe(137);
    expect(isAlive(appPid)).toBe(false);
  });

  test('a launcher killed with -9 takes the app and the adapter with it', async () => {
    const launched = await launch(['node', appScript], ['from-test']);
    await ready(launched);
    const children = childrenOf(launched.child.pid!);
    expect(children).toHaveLength(2);
    launched.child.kill('SIGKILL');
    await launched.exit;
    await until(
      () => children.every((pid) => !isRunning(pid)),
      () => `still running: ${children.filter(isRunning).join(' ')}`,
    );
  });

  test('reads PILOTLIGHT_APP_ENTRYPOINT as JSON does: 500 generated entrypoints, escaped and raw', async () => {
    const runtime = await testRuntime();
    // The app prints its arguments NUL-separated; the stand-in adapter passes the app's stdout (fd 3) on.
    const app = ['/bin/sh', '-c', 'for a in "$@"; do printf "%s\\0" "$a"; done', 'sh'];
    const adapter = ['/bin/sh', '-c', 'exec cat <&3'];
    const random = seededRandom(7);
    for (let i = 0; i < 500; i++) {
      const args = Array.from({ length: Math.floor(random() * 4) }, () => randomArgument(random));
      let entrypoint = JSON.stringify([...app, ...args]);
      if (i % 2 === 1) entrypoint = escapeNonAscii(entrypoint);
      const run = spawnSync(join(runtime.dir, 'launch'), [...adapter, '--'], {
        env: { PILOTLIGHT_APP_ENTRYPOINT: entrypoint },
      });
      const received = run.stdout.toString('utf8').split('\0').slice(0, -1);
      expect({ entrypoint, received }).toEqual({ entrypoint, received: args });
    }
  });

  test('PILOTLIGHT_ENV_ON_STDIN=1: the environment on stdin reaches the app and the adapter; stdin is then empty', async () => {
    const runtime = await testRuntime();
    const app = ['/bin/sh', '-c', 'printf "app:%s|%s|%s|" "$A" "$B" "${PILOTLIGHT_ENV_ON_STDIN-unset}"; cat'];
    const adapter = ['/bin/sh', '-c', 'printf "adapter:%s|" "$A"; exec cat <&3'];
    const run = (input: string) =>
      spawnSync(join(runtime.dir, 'launch'), [...adapter, '--'], {
        env: { PILOTLIGHT_APP_ENTRYPOINT: JSON.stringify(app), PILOTLIGHT_ENV_ON_STDIN: '1' },
        input,
        timeout: 10_000,
      });
    const given = run(JSON.stringify(['A=1', 'B=two words, "quoted" é']));
    expect(given.status).toBe(0);
    expect(given.stdout.toString()).toBe('adapter:1|app:1|two words, "quoted" é|unset|');

    // Cut short (the runner went away as it wrote), or not NAME=VALUE: nothing starts, and the reason is given.
    for (const input of ['["A=1",', '', '["=1"]', '["PILOTLIGHT_PORT=1"]', '{"A":"1"}']) {
      const refused = run(input);
      expect({ input, status: refused.status, out: refused.stdout.toString() }).toEqual({
        input,
        status: 78,
        out: '',
      });
      expect(refused.stderr.toString()).toContain(
        'PILOTLIGHT_ENV_ON_STDIN=1, but stdin is not a complete JSON array',
      );
    }
  });

  test('PILOTLIGHT_ENV_ON_STDIN=1 without the launcher: the adapter reads it and gives it to the app', async () => {
    const runtime = await testRuntime();
    const seenFile = join(dir, 'seen-alone.json');
    const child = spawn(process.execPath, [join(runtime.dir, 'adapter.mjs'), appScript], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        PORT: String(await freePort()),
        SEEN_FILE: seenFile,
        PILOTLIGHT_PORT: '0',
        PILOTLIGHT_APP_ENTRYPOINT: JSON.stringify([process.execPath]),
        PILOTLIGHT_ENV_ON_STDIN: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.push(child);
    child.stdin.end(JSON.stringify(['SECRET=from stdin']));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(
      () => existsSync(seenFile),
      () => output,
    );
    await until(
      () => readFileSync(seenFile, 'utf8').endsWith('}'),
      () => output,
    );
    const seen = JSON.parse(readFileSync(seenFile, 'utf8')) as { secret?: string; pilotlightEnv: string[] };
    expect(seen.secret).toBe('from stdin');
    expect(seen.pilotlightEnv).toEqual([]);
  });

  test('an entrypoint that is not a JSON array of strings leaves the adapter to refuse it', async () => {
    const runtime = await testRuntime();
    const child = spawn(
      join(runtime.dir, 'launch'),
      [process.execPath, join(runtime.dir, 'adapter.mjs'), '--'],
      {
        env: { PILOTLIGHT_APP_ENTRYPOINT: '["node", 1]', PILOTLIGHT_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(output).toContain('PILOTLIGHT_APP_ENTRYPOINT must be a JSON array of strings');
  });
});

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
}

function appPidOf(launched: Launched): number {
  const pids = childrenOf(launched.child.pid!);
  const app = pids.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(appScript));
  if (app === undefined) throw new Error(`no app among the launcher's children ${pids.join(' ')}`);
  return app;
}

/** Running, not gone nor a zombie left for its new parent to reap. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Printable ASCII, JSON's escapes, accents, CJK and astral characters; never NUL, never a lone surrogate. */
function randomArgument(random: () => number): string {
  const alphabet = [
    'a',
    ' ',
    '"',
    '\\',
    '/',
    '\t',
    '\n',
    '\r',
    '\b',
    '\f',
    '\u0001',
    'é',
    '✓',
    '漢',
    '😀',
    '$HOME',
    '--',
    "'",
  ];
  return Array.from(
    { length: Math.floor(random() * 8) },
    () => alphabet[Math.floor(random() * alphabet.length)],
  ).join('');
}

/** The same JSON with every non-ASCII character as \\u escapes (a surrogate pair for astral ones). */
function escapeNonAscii(json: string): string {
  return json.replace(/[^\x00-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

import { afterAll, describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStat } from '../../common/proc-stat.js';
import { sleep } from '../../common/sleep.js';
import { renderEdgeConfig } from '../../runner/src/edge/edge-config.js';
import { edgePaths, type EdgePaths } from '../../runner/src/edge/edge-paths.js';
import { EdgeProcess } from '../../runner/src/edge/edge-process.js';
import { Edge } from '../../runner/src/edge/edge.js';
import type { FunctionSpec } from '../../runner/src/spec/function-spec.js';

// HAProxy 2.6's master re-executes itself on every reload (to load the new configuration, and again into wait
// mode once the new worker is forked); its master CLI is closed meanwhile, even after the new worker answers.
// No containers here: only the edge and its reloads.

const dirs: string[] = [];
const edges: Edge[] = [];

function newPaths(): EdgePaths {
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-edge-reload-'));
  dirs.push(dir);
  return edgePaths(dir);
}

/** The running haproxy processes started with this configuration, with their parent pids. */
function edgeProcesses(paths: EdgePaths): Array<{ pid: number; ppid: number }> {
  const found: Array<{ pid: number; ppid: number }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!args.includes(paths.config)) continue;
      const ppid = Number(procStat(Number(entry))?.[1]);
      found.push({ pid: Number(entry), ppid });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Masters: the edge's processes whose parent is not one of them (the workers are the masters' children). */
function masters(paths: EdgePaths): number[] {
  const all = edgeProcesses(paths);
  const pids = new Set(all.map((p) => p.pid));
  return all.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}

async function gone(paths: EdgePaths, timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (edgeProcesses(paths).length > 0 && Date.now() < deadline) await sleep(50);
  return edgeProcesses(paths).map((p) => p.pid);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function spec(name: string): FunctionSpec {
  return {
    name,
    revision: 1,
    timeoutMs: 30_000,
    startupTimeoutMs: 10_000,
    concurrency: 4,
    scaling: { minScale: 0, maxScale: 1 },
    adapter: {},
  } as unknown as FunctionSpec;
}

afterAll(async () => {
  for (const edge of edges) await edge.close(false);
  for (const dir of dirs) {
    const paths = edgePaths(dir);
    for (const { pid } of edgeProcesses(paths)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('edge reloads (HAProxy master-worker)', () => {
  test('reloads back to back are each taken, and the master answers after each one', async () => {
    const paths = newPaths();
    const edge = new EdgeProcess(paths);
    const listen = { host: '127.0.0.1', port: await freePort() };
    const config = (n: number) =>
      renderEdgeConfig(paths, listen, []).replace('global\n', `global\n  # reload ${n}\n`);
    await edge.start(config(0));
    const master = Number(readFileSync(paths.pid, 'utf8').trim());
    try {
      // Each reload right after the one before, whose master may still be re-executing into wait mode.
      for (let i = 1; i <= 20; i++) await edge.reload(config(i));
      // No pause: the runner's supervisor asks right after a reload whether the edge still runs.
      expect(await edge.running()).toBe(master);
      expect(masters(paths)).toEqual([master]);
    } finally {
      await edge.stop();
    }
    expect(await gone(paths)).toEqual([]);
  }, 120_000);

  test('a supervised edge never gets a second master from reloads, and a clean stop leaves no haproxy behind', async () => {
    const paths = newPaths();
    const logged: string[] = [];
    const edge = new Edge(paths, { host: '127.0.0.1', port: 0 }, (msg) => logged.push(msg));
    edges.push(edge);
    expect(await edge.open()).toBe('started');
    // Checks between every change, as the runner's once-a-second check does when it lands after a reload.
    edge.supervise(1);
    const failed: string[] = [];
    const deadline = Date.now() + 60_000;
    try {
      for (let i = 0; i < 12 && Date.now() < deadline; i++) {
        await edge.declare(spec(`f${i}`)).catch((error: Error) => failed.push(error.message));
        if (i % 3 === 2) await edge.forget(`f${i - 1}`).catch((error: Error) => failed.push(error.message));
      }
      await sleep(100);
      expect({ failed, logged }).toEqual({ failed: [], logged: [] });
      const recorded = Number(readFileSync(paths.pid, 'utf8').trim());
      expect(masters(paths)).toEqual([recorded]);
    } finally {
      await edge.close(true);
    }
    expect(await gone(paths)).toEqual([]);
  }, 120_000);
});

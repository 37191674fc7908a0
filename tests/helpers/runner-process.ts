import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { LABEL_REVISION, LABEL_RUNNER } from '../../engine/labels.js';
import { runRunner, spawnRunner } from './runner-cli.js';
import { runTempPrefix } from './test-docker.js';

/** Data folders startRunner made: removed when a runner on one stops, unless it is told to keep it. */
const madeHere = new Set<string>();

export interface RunnerProcess {
  dataDir: string;
  gateway: string;
  runnerId: string;
  process: ReturnType<typeof spawnRunner>;
  output(): string;
  /** `runner ARGS --data-dir DIR` against this runner. */
  cli(args: string[], env?: Record<string, string>, input?: string): ReturnType<typeof runRunner>;
  /** SIGTERM, then its containers and edge go; its data folder too, unless kept for a runner started on it next. */
  stop(options?: { keepDataDir?: boolean }): Promise<void>;
  /** kill -9: instances stay running, as after a crash. */
  kill(): Promise<void>;
}

/** Starts `runner up` on free ports with its own data directory (or a given one, for restarts). */
export async function startRunner(
  docker: Docker,
  options: {
    dataDir?: string;
    tickMs?: number;
    sweepMs?: number;
    env?: Record<string, string>;
    /** More `runner up` flags. */
    args?: string[];
    /** Run as a child subreaper: the edge's master, orphaned by its daemonizing, is its child (see spawnRunner). */
    asSubreaper?: boolean;
  } = {},
): Promise<RunnerProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(runTempPrefix('runner')));
  if (!options.dataDir) madeHere.add(dataDir);
  const child = spawnRunner(
    [
      'up',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--control-port',
      '0',
      '--tick',
      String(options.tickMs ?? 250),
      ...(options.sweepMs ? ['--sweep', String(options.sweepMs)] : []),
      ...(options.args ?? []),
    ],
    options.env,
    options.asSubreaper,
  );
  let output = '';
  const gateway = await new Promise<string>((resolve, reject) => {
    child.all.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /gateway (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    void child.then(() => reject(new Error(`runner exited early:\n${output}`)));
  });
  const runnerId = (await readFile(join(dataDir, 'runner-id'), 'utf8')).trim();
  const removeLeftovers = async () => {
    stopEdge(dataDir);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_RUNNER}=${runnerId}`] },
    });
    await Promise.all(
      left.map((info) =>
        docker
          .getContainer(info.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined),
      ),
    );
    const networks = await docker.listNetworks({ filters: { label: [`${LABEL_RUNNER}=${runnerId}`] } });
    await Promise.all(
      networks.map((network) =>
        docker
          .getNetwork(network.Id)
          .remove()
          .catch(() => undefined),
      ),
    );
  };
  return {
    dataDir,
    gateway,
    runnerId,
    process: child,
    output: () => output,
    cli: (args, env = {}, input) => runRunner([...args, '--data-dir', dataDir], env, input),
    stop: async ({ keepDataDir = false } = {}) => {
      child.kill('SIGTERM');
      await child;
      await removeLeftovers();
      // One killed with -9 leaves it to the runner restarted on it.
      if (!keepDataDir && madeHere.delete(dataDir)) await rm(dataDir, { recursive: true, force: true });
    },
    kill: async () => {
      child.kill('SIGKILL');
      await child;
    },
  };
}

/** Stops the edge (HAProxy) a runner left running in its data directory, as after a kill -9. */
export function stopEdge(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'edge', 'haproxy.pid'), 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGTERM');
  } catch {
    // no edge, or already gone
  }
}

export async function instancesOf(
  docker: Docker,
  runnerId: string,
  fn: string,
): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_RUNNER}=${runnerId}`, `pilotlight.function=${fn}`] },
  });
}

/** Waits until a container of the function's given revision exists (a deploy starting its first instance). */
export function revisionStarting(
  docker: Docker,
  runnerId: string,
  fn: string,
  revision: number,
): Promise<true> {
  return until(
    `${fn} starting an instance of revision ${revision}`,
    async () =>
      (await instancesOf(docker, runnerId, fn)).some(
        (container) => container.Labels[LABEL_REVISION] === String(revision),
      ) || undefined,
  );
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last !== undefined && last !== false) return last;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

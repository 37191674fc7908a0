import { EngineUnavailableError } from '../engine/engine-errors.js';
import type { HostFacts } from './host-facts.js';
import { ensureCommands } from './install-debian-packages.js';
import type { ProcessRunner } from './process-runner.js';

export interface EnsureEngineDeps {
  /** Resolves true when the engine answers a ping. */
  ping: () => Promise<boolean>;
  endpoint: string;
  /** Whether this endpoint is the local default socket that a local dockerd would serve. */
  isLocalDefault: boolean;
  host: HostFacts;
  processes: ProcessRunner;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  daemonLogFile: string;
  /** The text of /etc/docker/daemon.json, when there is one. */
  daemonConfig?: string | undefined;
  startTimeoutMs?: number;
}

/**
 * dockerd's flags when this command starts it: live-restore, so that instances keep running and serving while
 * the engine restarts. Not when daemon.json says either way: dockerd refuses a setting given twice.
 */
export function dockerdArgs(daemonConfig: string | undefined): string[] {
  return daemonConfig?.includes('"live-restore"') ? [] : ['--live-restore'];
}

export type EngineOutcome = 'already-running' | 'started' | 'installed-and-started';

/**
 * Finds a Docker engine. When none answers on the local default socket of a Debian host where we are root,
 * installs Debian's docker.io if needed, starts dockerd in the background and waits for it to answer.
 */
export async function ensureEngine(deps: EnsureEngineDeps): Promise<EngineOutcome> {
  if (await deps.ping()) return 'already-running';

  if (!deps.isLocalDefault) {
    throw new EngineUnavailableError(
      `no Docker engine answers at ${deps.endpoint} (DOCKER_HOST): start that engine or unset DOCKER_HOST to use the local one`,
    );
  }
  if (!deps.host.isDebian || !deps.host.isRoot) {
    throw new EngineUnavailableError(
      `no Docker engine answers at ${deps.endpoint}: install and start Docker ` +
        `(on Debian as root, this command does it for you), or point DOCKER_HOST at a running engine`,
    );
  }

  const wasInstalled = Boolean(await deps.processes.which('dockerd'));
  await ensureCommands(
    [{ command: 'dockerd', debianPackage: 'docker.io', purpose: 'the Docker engine' }],
    deps.host,
    deps.processes,
    deps.log,
  );

  // The package's own service start may already have brought it up.
  if (!(await deps.ping())) {
    deps.log(`starting dockerd in the background (log: ${deps.daemonLogFile})`);
    deps.processes.spawnDetached('dockerd', dockerdArgs(deps.daemonConfig), deps.daemonLogFile);
    await waitForEngine(deps);
  }
  return wasInstalled ? 'started' : 'installed-and-started';
}

async function waitForEngine(deps: EnsureEngineDeps): Promise<void> {
  const timeoutMs = deps.startTimeoutMs ?? 60_000;
  const stepMs = 200;
  for (let waited = 0; waited < timeoutMs; waited += stepMs) {
    if (await deps.ping()) return;
    await deps.sleep(stepMs);
  }
  throw new EngineUnavailableError(
    `dockerd was started but did not answer at ${deps.endpoint} within ${timeoutMs / 1000}s: see ${deps.daemonLogFile}`,
  );
}

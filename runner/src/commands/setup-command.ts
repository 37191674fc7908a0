import { existsSync, readFileSync } from 'node:fs';
import { ensureImages } from '../../../images/ensure-images.js';
import { defaultRuntimeCacheDir, ensureAdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import {
  createEngine,
  DEFAULT_SOCKET,
  describeEndpoint,
  dockerEndpointFromEnv,
} from '../../../engine/docker-endpoint.js';
import { ensureEngine } from '../../../host/ensure-engine.js';
import { ensureCommands } from '../../../host/install-debian-packages.js';
import { readHostFacts } from '../../../host/host-facts.js';
import { execaProcessRunner } from '../../../host/process-runner.js';
import { sleep } from '../../../common/sleep.js';

const DAEMON_CONFIG = '/etc/docker/daemon.json';

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export interface SetupOptions {
  env: Record<string, string | undefined>;
  forTests: boolean;
  log: (line: string) => void;
}

/** Everything both README commands need: a Docker engine that answers, the edge, and the project's images. */
export async function runSetup(options: SetupOptions): Promise<void> {
  const started = Date.now();
  const endpoint = dockerEndpointFromEnv(options.env);
  const engine = createEngine(endpoint);
  const processes = execaProcessRunner();
  const host = readHostFacts();

  const outcome = await ensureEngine({
    ping: () => engine.ping(),
    endpoint: describeEndpoint(endpoint),
    isLocalDefault: endpoint.kind === 'socket' && endpoint.socketPath === DEFAULT_SOCKET,
    host,
    processes,
    sleep,
    log: options.log,
    daemonLogFile: '/var/log/pilotlight-dockerd.log',
    daemonConfig: existsSync(DAEMON_CONFIG) ? readFileSync(DAEMON_CONFIG, 'utf8') : undefined,
  });
  if (outcome !== 'already-running') options.log(`Docker engine ${outcome} at ${describeEndpoint(endpoint)}`);
  await ensureCommands(
    [{ command: 'haproxy', debianPackage: 'haproxy', purpose: 'the edge every request comes through' }],
    host,
    processes,
    options.log,
  );

  await ensureImages({
    engine,
    processes,
    host,
    mirror: options.env['PILOTLIGHT_DEBIAN_MIRROR'] || DEFAULT_DEBIAN_MIRROR,
    forTests: options.forTests,
    log: options.log,
  });
  // The instances' native launcher is built with the host's C compiler; without one they start a little slower.
  if (host.isDebian && host.isRoot) {
    await ensureCommands(
      [{ command: 'cc', debianPackage: 'gcc libc6-dev', purpose: "builds the instances' launcher" }],
      host,
      processes,
      options.log,
    );
  }
  const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), processes);
  if (!runtime.launcher) {
    options.log(
      'no C compiler (cc) to build the native launcher: instances start their app from Node, about 30 ms later',
    );
  }
  options.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

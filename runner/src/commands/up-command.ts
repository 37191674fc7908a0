import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { defaultRuntimeCacheDir, ensureAdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { Controller } from '../control/controller.js';
import { createControlServer } from '../control/control-server.js';
import {
  ensureNoLiveRunner,
  removeRunnerInfo,
  readOrCreateSecret,
  writeRunnerInfo,
} from '../control/runner-files.js';
import { createDocker, describeEndpoint, dockerEndpointFromEnv } from '../../../engine/docker-endpoint.js';
import { EngineUnavailableError } from '../../../engine/engine-errors.js';
import { forwardToInstance } from '../gateway/forward-to-instance.js';
import { createGatewayServer } from '../gateway/gateway-server.js';
import { execaProcessRunner } from '../../../host/process-runner.js';
import { StateStore } from '../store/state-store.js';
import { join } from 'node:path';

export interface UpOptions {
  env: Record<string, string | undefined>;
  dataDir: string;
  host: string;
  gatewayPort: number;
  controlPort: number;
  keepInstances: boolean;
  tickMs?: number;
  sweepMs?: number;
  log: (line: string) => void;
  /** Resolves when the runner should stop (SIGINT/SIGTERM in the CLI). */
  stopSignal: Promise<void>;
}

/** Runs the runner in the foreground until stopSignal resolves. */
export async function runUp(options: UpOptions): Promise<void> {
  ensureNoLiveRunner(options.dataDir);
  const endpoint = dockerEndpointFromEnv(options.env);
  const docker = createDocker(endpoint);
  const info = await docker.info().catch(() => {
    throw new EngineUnavailableError(
      `no Docker engine answers at ${describeEndpoint(endpoint)}: run \`runner setup\` (or start Docker) first`,
    );
  });
  const log = (msg: string, fields: Record<string, unknown> = {}): void =>
    options.log(
      [
        msg,
        ...Object.entries(fields).map(
          ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
        ),
      ].join(' '),
    );

  const store = new StateStore(join(options.dataDir, 'state.db'));
  const runnerId = readOrCreateSecret(options.dataDir, 'runner-id', 6);
  const token = readOrCreateSecret(options.dataDir, 'token', 32);
  const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner());
  const controller = new Controller({
    docker,
    store,
    runtime,
    runnerId,
    host: { cpus: info.NCPU, memory: info.MemTotal },
    env: options.env,
    log,
    tickMs: options.tickMs,
    sweepMs: options.sweepMs,
  });
  // A fault in the runner's own background work is logged with its stack; the gateway keeps serving.
  const onUnhandled = (reason: unknown): void =>
    log('internal error', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
  process.on('unhandledRejection', onUnhandled);
  await controller.start();

  const gateway = createGatewayServer((route, req, res) => {
    const fn = controller.functions.get(route.name);
    if (!fn) return false;
    forwardToInstance(fn, route.path, req, res, (owner, instance, answer, message) =>
      controller.suspect(owner, instance, answer, message),
    ).catch((error: Error) => {
      log('gateway failure', { fn: route.name, error: error.message });
      res.destroy();
    });
    return true;
  });
  // Requests may run as long as a function's timeout (up to 2 h): no proxy-side idle or request cut.
  gateway.requestTimeout = 0;
  gateway.keepAliveTimeout = 65_000;
  const gatewayPort = await listen(gateway, options.gatewayPort, options.host);
  const gatewayUrl = `http://${options.host}:${gatewayPort}`;
  const control = createControlServer(controller, docker, token, gatewayUrl);
  const controlPort = await listen(control, options.controlPort, '127.0.0.1');
  writeRunnerInfo(options.dataDir, {
    pid: process.pid,
    runnerId,
    gateway: gatewayUrl,
    control: `http://127.0.0.1:${controlPort}`,
  });
  options.log(
    `runner up: gateway ${gatewayUrl}/fn/NAME/ control http://127.0.0.1:${controlPort} (data: ${options.dataDir})`,
  );

  await options.stopSignal;
  options.log('runner stopping: finishing requests in flight');
  gateway.close();
  control.close();
  await controller.stop();
  await waitForQuiet(controller, 30_000);
  if (!options.keepInstances) {
    await Promise.all([...controller.functions.keys()].map((name) => controller.stopInstances(name)));
  }
  gateway.closeAllConnections();
  control.closeAllConnections();
  removeRunnerInfo(options.dataDir);
  store.close();
  process.off('unhandledRejection', onUnhandled);
  options.log('runner stopped');
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function waitForQuiet(controller: Controller, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const inflight = () => [...controller.functions.values()].reduce((sum, fn) => sum + fn.pool.demand, 0);
  while (inflight() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

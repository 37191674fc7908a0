import { SecretBox } from '../store/secret-box.js';
import { once } from 'node:events';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultRuntimeCacheDir, ensureAdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { Deliverer } from '../async/deliverer.js';
import { Dispatcher } from '../async/dispatcher.js';
import { EventIntake } from '../async/accept-event.js';
import { GroupCommit } from '../async/group-commit.js';
import { InvocationStore } from '../async/invocation-store.js';
import { invokeInstance } from '../async/invoke-instance.js';
import { Deployer } from '../control/deploy.js';
import { lambdaFunctionName, lambdaInvoke, sendLambdaError } from '../lambda/lambda-invoke.js';
import { FunctionRegistry } from '../control/function-registry.js';
import { Reconciler } from '../control/reconciler.js';
import { systemClock } from '../instances/clock.js';
import { createControlServer } from '../control/control-server.js';
import { controlListen, controlUrl } from '../control/control-listen.js';
import { checkStateFiles } from '../state-files.js';
import {
  ensureNoLiveRunner,
  removeRunnerInfo,
  readOrCreateSecret,
  writeRunnerInfo,
} from '../control/runner-files.js';
import { createEngine, describeEndpoint, dockerEndpointFromEnv } from '../../../engine/docker-endpoint.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { EngineUnavailableError } from '../../../engine/engine-errors.js';
import { Activator } from '../gateway/activator.js';
import { createRunnerServer } from '../gateway/runner-server.js';
import { Edge } from '../edge/edge.js';
import { edgePaths } from '../edge/edge-paths.js';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { execaProcessRunner } from '../../../host/process-runner.js';
import { StateStore } from '../store/state-store.js';
import { join } from 'node:path';

export interface UpOptions {
  env: Record<string, string | undefined>;
  dataDir: string;
  host: string;
  gatewayPort: number;
  controlPort: number;
  /** Where the control API listens (default 127.0.0.1): off loopback it needs `tls` or `insecureControl`. */
  controlHost?: string;
  tls?: { certFile: string; keyFile: string };
  insecureControl?: boolean;
  /** The edge never sleeps between events: lower latency for one CPU kept busy (see EdgeTuning). */
  edgeBusyPolling?: boolean;
  keepInstances: boolean;
  tickMs?: number;
  sweepMs?: number;
  /** Finished async events kept: at most this many, none older than this. */
  retention?: { keep: number; maxAgeMs: number };
  log: (line: string) => void;
  /** Resolves when the runner should stop (SIGINT/SIGTERM in the CLI). */
  stopSignal: Promise<void>;
}

/** Runs the runner in the foreground until stopSignal resolves. */
export async function runUp(options: UpOptions): Promise<void> {
  ensureNoLiveRunner(options.dataDir);
  checkStateFiles(options.dataDir);
  const controlPlan = controlListen({
    host: options.controlHost ?? '127.0.0.1',
    tls: options.tls,
    insecure: options.insecureControl ?? false,
  });
  const endpoint = dockerEndpointFromEnv(options.env);
  const engine = createEngine(endpoint);
  const host = await engine.capacity().catch(() => {
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
  const secrets = new SecretBox(Buffer.from(readOrCreateSecret(options.dataDir, 'secrets.key', 32), 'hex'));
  const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner());
  const registry = new FunctionRegistry();
  const paths = edgePaths(options.dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const edge = new Edge(paths, { host: options.host, port: options.gatewayPort }, log, {
    busyPolling: options.edgeBusyPolling ?? false,
  });
  const reconciler = new Reconciler({
    routing: edge,
    engine,
    runtime,
    runnerId,
    store,
    registry,
    clock: systemClock,
    log,
    bootCpus: host.cpus,
    secrets,
    tickMs: options.tickMs,
    sweepMs: options.sweepMs,
  });
  const deployer = new Deployer({
    engine,
    store,
    registry,
    reconciler,
    host,
    env: options.env,
    clock: systemClock,
    log,
    secrets,
  });
  // A fault in the runner's own background work is logged with its stack; the gateway keeps serving.
  const onUnhandled = (reason: unknown): void =>
    log('internal error', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
  process.on('unhandledRejection', onUnhandled);
  await reconciler.start();
  const invocations = new InvocationStore(join(options.dataDir, 'invocations.db'));
  const dispatcher = new Dispatcher({
    store: invocations,
    registry,
    clock: systemClock,
    log,
    attempt: invokeInstance,
    ...(options.retention ? { retention: options.retention } : {}),
  });
  const commit = new GroupCommit(invocations, systemClock);
  const intake = new EventIntake({ commit, dispatcher });
  const deliverer = new Deliverer({
    store: invocations,
    commit,
    clock: systemClock,
    log,
    kick: (fn) => dispatcher.kick(fn),
  });
  dispatcher.onFinished(() => deliverer.kick());
  dispatcher.start();
  deliverer.start();

  const invokeLambda = lambdaInvoke({ registry, intake, ...lambdaKeys(options.env) });
  const lambda = (req: IncomingMessage, res: ServerResponse): boolean => {
    const name = lambdaFunctionName(req.url ?? '');
    if (name === undefined || req.method !== 'POST') return false;
    invokeLambda(name, req, res).catch((error: unknown) =>
      res.headersSent
        ? res.destroy()
        : sendLambdaError(res, 500, 'ServiceException', (error as Error).message),
    );
    return true;
  };
  const runnerServer = createRunnerServer({
    registry,
    intake,
    activator: new Activator(paths.activated, edge, registry),
    lambda,
    log,
  });
  rmSync(paths.runner, { force: true });
  runnerServer.listen(paths.runner);
  await once(runnerServer, 'listening');
  chmodSync(paths.runner, 0o600);
  const opened = await edge.open();
  void reconciler.retireOrphans();
  edge.supervise();
  edge.enforceTimeouts();
  log(
    opened === 'adopted'
      ? "edge (haproxy) adopted, reloaded with this runner's view"
      : 'edge (haproxy) started',
    {
      config: paths.config,
    },
  );
  const gatewayUrl = `http://${options.host}:${edge.port}`;
  const control = createControlServer(
    { registry, deployer, engine, intake, invocations, deliverer },
    token,
    gatewayUrl,
    controlPlan.tls,
  );
  const controlPort = await listen(control, options.controlPort, controlPlan.host, '--control-port');
  const controlAt = controlUrl(controlPlan, controlPort);
  writeRunnerInfo(options.dataDir, {
    pid: process.pid,
    runnerId,
    gateway: gatewayUrl,
    control: controlAt,
    ...(controlPlan.tls ? { controlCert: controlPlan.tls.certificates } : {}),
  });
  options.log(`runner up: gateway ${gatewayUrl}/fn/NAME/ control ${controlAt} (data: ${options.dataDir})`);
  if (controlPlan.insecure) {
    options.log(
      `warning: the control API listens on ${controlPlan.host}:${controlPort} over plain HTTP (--insecure-control): its token and every call cross the network unencrypted`,
    );
  }

  await options.stopSignal;
  options.log('runner stopping: finishing requests in flight');
  runnerServer.close();
  control.close();
  // Async events under way finish and are recorded; those not started stay queued for the next run.
  await dispatcher.stop();
  deliverer.stop();
  await reconciler.stop();
  await waitForQuiet(registry, reconciler, 30_000);
  if (!options.keepInstances) {
    await Promise.all(registry.names().map((name) => deployer.stopInstances(name)));
  }
  await edge.close(!options.keepInstances);
  runnerServer.closeAllConnections();
  control.closeAllConnections();
  removeRunnerInfo(options.dataDir);
  store.close();
  invocations.close();
  process.off('unhandledRejection', onUnhandled);
  options.log('runner stopped');
}

/**
 * Access keys for Lambda's Invoke API, from PILOTLIGHT_AWS_ACCESS_KEY_ID and PILOTLIGHT_AWS_SECRET_ACCESS_KEY:
 * with them every call must be signed; without them unsigned calls are accepted.
 */
function lambdaKeys(env: Record<string, string | undefined>): { keys?: Map<string, string> } {
  const id = env['PILOTLIGHT_AWS_ACCESS_KEY_ID'];
  const secret = env['PILOTLIGHT_AWS_SECRET_ACCESS_KEY'];
  return id && secret ? { keys: new Map([[id, secret]]) } : {};
}

/** Listens, or says in one line which port is taken and which flag moves it. */
async function listen(server: NetServer, port: number, host: string, flag: string): Promise<number> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new PilotlightError(
        'PORT_IN_USE',
        `${host}:${port} ${code === 'EADDRINUSE' ? 'is already in use' : 'may not be used by this user'}: pass ${flag} with another port (0 picks a free one)`,
        409,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new PilotlightError(
        'ADDRESS_NOT_AVAILABLE',
        `${host} is not an address of this machine: pass --control-host with one of its addresses`,
        400,
      );
    }
    throw error;
  }
  return (server.address() as AddressInfo).port;
}

async function waitForQuiet(
  registry: FunctionRegistry,
  reconciler: Reconciler,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await reconciler.sample();
    if (registry.demand() === 0 || Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

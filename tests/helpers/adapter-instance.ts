import type Docker from 'dockerode';
import { ADAPTER_PORT } from '../../adapter/contract/contract.js';
import {
  defaultRuntimeCacheDir,
  ensureAdapterRuntime,
  type AdapterRuntime,
} from '../../runner/src/adapter-runtime/adapter-runtime.js';
import { readAppImageConfig } from '../../runner/src/adapter-runtime/image-config.js';
import { adapterContainer } from '../../runner/src/adapter-runtime/mount-container.js';
import { wrapImage } from '../../runner/src/adapter-runtime/wrap-image.js';
import { demuxLogs } from '../../engine/demux-stream.js';
import { execaProcessRunner } from '../../host/process-runner.js';
import { testEngine, testLabels, uniqueName, TEST_RUN_ID } from './test-docker.js';

export type Packaging = 'mount' | 'wrap';

export interface AdapterInstance {
  url: string;
  container: Docker.Container;
  logs(): Promise<string>;
  remove(): Promise<void>;
}

let runtime: Promise<AdapterRuntime> | undefined;

export function testRuntime(): Promise<AdapterRuntime> {
  return (runtime ??= ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner()));
}

/** For wrap: builds SOURCE as a test-only wrapped image and returns its ref; for mount: the source itself. */
export async function imageFor(_docker: Docker, source: string, packaging: Packaging): Promise<string> {
  if (packaging === 'mount') return source;
  const target = `${source.split(':')[0]}:wrapped-${TEST_RUN_ID}`;
  await wrapImage(testEngine(), source, target, await testRuntime());
  return target;
}

export async function removeImage(docker: Docker, ref: string): Promise<void> {
  await docker
    .getImage(ref)
    .remove({ force: true })
    .catch(() => undefined);
}

/** Starts an instance of `ref` behind the adapter, published on 127.0.0.1, and waits until /_/ready says so. */
export async function startAdapterInstance(
  docker: Docker,
  ref: string,
  packaging: Packaging,
  env: Record<string, string>,
  options: { appPort?: number; waitReady?: boolean; network?: string } = {},
): Promise<AdapterInstance> {
  const engine = testEngine();
  const image = await readAppImageConfig(engine, ref);
  const create = adapterContainer({
    ref,
    image,
    runtime: packaging === 'mount' ? await testRuntime() : undefined,
    appPort: options.appPort,
    env,
    labels: testLabels(),
    name: uniqueName('adapter'),
    publish: true,
  });
  const id = await engine.create({ ...create, ...(options.network ? { network: options.network } : {}) });
  await engine.start(id);
  const container = docker.getContainer(id);
  const hostPort = (await engine.inspect(id))?.hostPorts[ADAPTER_PORT];
  const instance: AdapterInstance = {
    url: `http://127.0.0.1:${hostPort}`,
    container,
    logs: async () => demuxLogs(await container.logs({ stdout: true, stderr: true })).all,
    remove: () =>
      container.remove({ force: true, v: true }).then(
        () => undefined,
        () => undefined,
      ),
  };
  if (options.waitReady !== false) await waitReady(instance);
  return instance;
}

async function waitReady(instance: AdapterInstance, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A connection accepted by Docker's port proxy before the adapter listens can hang: bound every probe.
    const status = await fetch(`${instance.url}/_/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`adapter at ${instance.url} not ready after ${timeoutMs} ms:\n${await instance.logs()}`);
}

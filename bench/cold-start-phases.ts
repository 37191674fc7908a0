/** Where a cold start's time goes: create, start, adapter up, app ready (one line per run). */
import { sampleImageRef } from '../images/catalog.js';
import {
  defaultRuntimeCacheDir,
  ensureAdapterRuntime,
} from '../runner/src/adapter-runtime/adapter-runtime.js';
import { defaultLifecycleConfig } from '../runner/src/autoscaler/plan-instances.js';
import { defaultAdapterSettings, defaultAsyncSettings } from '../runner/src/spec/deploy-request.js';
import { createEngine, dockerEndpointFromEnv } from '../engine/docker-endpoint.js';
import type { FunctionSpec } from '../runner/src/spec/function-spec.js';
import { httpAdapterClient } from '../runner/src/instances/adapter-client.js';
import { systemClock } from '../runner/src/instances/clock.js';
import { InstanceContainers } from '../runner/src/instances/instance-containers.js';
import { execaProcessRunner } from '../host/process-runner.js';

const engine = createEngine(dockerEndpointFromEnv(process.env));
const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner());
const containers = new InstanceContainers(engine, runtime, 'phases', systemClock, 2);
const adapter = httpAdapterClient(systemClock);
const image = (await engine.inspectImage(sampleImageRef('express')))!;
const fn: FunctionSpec = {
  name: 'phases',
  image: sampleImageRef('express'),
  digest: undefined,
  imageId: image.id,
  revision: 1,
  appPort: 3000,
  active: { cpus: 1, memory: 512 * 1024 ** 2 },
  reserved: { cpus: 0.05, memory: 128 * 1024 ** 2 },
  concurrency: 10,
  timeoutMs: 60_000,
  startupTimeoutMs: 60_000,
  env: {},
  scaling: { minScale: 0, maxScale: 1 },
  lifecycle: defaultLifecycleConfig(),
  adapter: defaultAdapterSettings(),
  async: defaultAsyncSettings(),
};
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const instance = await containers.start(fn);
  const t1 = performance.now();
  await adapter.waitReady(instance, 60_000, async () => true);
  const t2 = performance.now();
  const response = await fetch(`${instance.address}/`);
  await response.text();
  const t3 = performance.now();
  console.log(
    `start ${(t1 - t0).toFixed(0)} ms, ready +${(t2 - t1).toFixed(0)} ms, first request +${(t3 - t2).toFixed(0)} ms, total ${(t3 - t0).toFixed(0)} ms`,
  );
  await containers.remove(instance.id);
}
await containers.networks.remove(fn.name);

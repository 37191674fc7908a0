import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type Docker from 'dockerode';
import { sampleImageRef } from '../../images/catalog.js';
import { readAppImageConfig } from '../../runner/src/adapter-runtime/image-config.js';
import { adapterContainer } from '../../runner/src/adapter-runtime/mount-container.js';
import { systemClock } from '../../runner/src/instances/clock.js';
import { InstanceContainers } from '../../runner/src/instances/instance-containers.js';
import type { ResourceSpec } from '../../runner/src/instances/resource-spec.js';
import { shrinkTarget } from '../../runner/src/instances/shrink-target.js';
import { ADAPTER_PORT } from '../../adapter/contract/contract.js';
import { testRuntime } from '../helpers/adapter-instance.js';
import { testDocker, testEngine, testLabels, uniqueName, waitForOk } from '../helpers/test-docker.js';

const docker = testDocker();
const engine = testEngine();
const MiB = 1024 ** 2;
const active: ResourceSpec = { cpus: 1, memory: 512 * MiB };
const reserved: ResourceSpec = { cpus: 0.1, memory: 96 * MiB };

describe.each(['express', 'jvm'] as const)('shrinking a warm %s instance in place', (sample) => {
  let container: Docker.Container;
  let url: string;
  let containers: InstanceContainers;

  beforeAll(async () => {
    const ref = sampleImageRef(sample);
    const runtime = await testRuntime();
    containers = new InstanceContainers(engine, runtime, 'resize-test', systemClock);
    const id = await engine.create({
      ...adapterContainer({
        ref,
        image: await readAppImageConfig(engine, ref),
        runtime,
        labels: testLabels(),
        name: uniqueName(`resize-${sample}`),
        publish: true,
      }),
      resources: active,
    });
    await engine.start(id);
    container = docker.getContainer(id);
    url = `http://127.0.0.1:${(await engine.inspect(id))?.hostPorts[ADAPTER_PORT]}`;
    await waitForOk(`${url}/_/ready`);
  });
  afterAll(() => container.remove({ force: true, v: true }));

  test('the reserved spec is applied without a restart, memory no lower than the app needs', async () => {
    const startedAt = (await container.inspect()).State.StartedAt;
    const result = shrinkTarget(reserved, await containers.memoryUsage(container.id));
    await containers.resize(container.id, result.applied);
    const info = await container.inspect();
    expect(info.HostConfig.NanoCpus).toBe(result.applied.cpus * 1e9);
    expect(info.HostConfig.Memory).toBe(result.applied.memory);
    expect(result.applied.cpus).toBe(reserved.cpus);
    expect(result.applied.memory).toBeGreaterThanOrEqual(Math.min(reserved.memory, result.usageBytes * 1.25));
    if (result.applied.memory > reserved.memory) expect(result.note).toContain('memory kept at');
    expect(info.State.StartedAt).toBe(startedAt);
    expect(info.State.Running).toBe(true);
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect(info.State.OOMKilled).toBe(false);
  });

  test('a frozen instance is woken to the active spec and answers', async () => {
    await container.pause();
    expect((await container.inspect()).State.Paused).toBe(true);
    const started = performance.now();
    await containers.wake(container.id, active, true);
    const response = await fetch(`${url}/`);
    const wakeMs = performance.now() - started;
    expect(response.status).toBe(200);
    const info = await container.inspect();
    expect(info.State.Paused).toBe(false);
    expect(info.HostConfig.NanoCpus).toBe(active.cpus * 1e9);
    expect(info.HostConfig.Memory).toBe(active.memory);
    expect(wakeMs).toBeLessThan(1000);
    expect(await containers.memoryUsage(container.id)).toBeGreaterThan(0);
  });
});

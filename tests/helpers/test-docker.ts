import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { ContainerEngine } from '../../engine/container-engine.js';
import { createDocker, createEngine, dockerEndpointFromEnv } from '../../engine/docker-endpoint.js';
import { demuxLogs } from '../../engine/demux-stream.js';
import { LABEL_TEST_RUN, managedLabels } from '../../engine/labels.js';

/** One id per test run (set by tests/global-setup.js); everything a test creates is labelled with it. */
export const TEST_RUN_ID =
  process.env['PILOTLIGHT_TEST_RUN'] ?? `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

export function testDocker(): Docker {
  return createDocker(dockerEndpointFromEnv(process.env));
}

/** Pilotlight's own engine client, for what the product does; `testDocker()` acts on the engine as a user would. */
export function testEngine(): ContainerEngine {
  return createEngine(dockerEndpointFromEnv(process.env));
}

export function testLabels(): Record<string, string> {
  return managedLabels('test', { [LABEL_TEST_RUN]: TEST_RUN_ID });
}

/**
 * A prefix for `mkdtemp` that names this run: the global teardown stops the edges left in such folders, and
 * only those (other runs on the machine keep theirs).
 */
export function runTempPrefix(name: string): string {
  return join(tmpdir(), `pilotlight-${TEST_RUN_ID}-${name}-`);
}

export function uniqueName(prefix: string): string {
  return `pilotlight-test-${prefix}-${TEST_RUN_ID}-${randomBytes(2).toString('hex')}`;
}

export interface StartedContainer {
  id: string;
  name: string;
  /** Base URL of the container's port as published on 127.0.0.1. */
  url: string;
  container: Docker.Container;
  remove(): Promise<void>;
}

/** Runs an image with one port published on a free 127.0.0.1 port. */
export async function startContainer(
  docker: Docker,
  image: string,
  port: number,
  options: { env?: string[]; name?: string } = {},
): Promise<StartedContainer> {
  const name = options.name ?? uniqueName('c');
  const container = await docker.createContainer({
    name,
    Image: image,
    Env: options.env,
    Labels: testLabels(),
    ExposedPorts: { [`${port}/tcp`]: {} },
    HostConfig: { PortBindings: { [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await container.start();
  const info = await container.inspect();
  const hostPort = info.NetworkSettings.Ports[`${port}/tcp`]?.[0]?.HostPort;
  if (!hostPort) throw new Error(`${image}: port ${port} was not published`);
  return {
    id: container.id,
    name,
    url: `http://127.0.0.1:${hostPort}`,
    container,
    remove: () => container.remove({ force: true, v: true }).catch(() => undefined),
  };
}

/** Polls url until it answers 200; returns how long that took. */
export async function waitForOk(url: string, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  let lastError = '';
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return Date.now() - started;
      lastError = `status ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${lastError})`);
}

/** Runs a command in a container (as `docker exec` does) and returns its output. */
export async function execIn(container: Docker.Container, cmd: string[]): Promise<string> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.on('end', resolve));
  return demuxLogs(Buffer.concat(chunks)).all.trim();
}

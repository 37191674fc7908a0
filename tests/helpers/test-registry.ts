import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { REGISTRY_IMAGE } from '../../images/catalog.js';
import { followProgress } from '../../engine/follow-progress.js';
import { startContainer, uniqueName, type StartedContainer } from './test-docker.js';

export interface TestRegistry {
  /** host:port as used in image references, e.g. 127.0.0.1:32790 */
  address: string;
  username: string;
  password: string;
  auth: { username: string; password: string; serveraddress: string };
  stop(): Promise<void>;
}

/** Starts Debian's docker-registry with htpasswd auth, published on 127.0.0.1 only. */
export async function startTestRegistry(docker: Docker): Promise<TestRegistry> {
  const username = 'pilot';
  const password = randomBytes(9).toString('base64url');
  const started: StartedContainer = await startContainer(docker, REGISTRY_IMAGE, 5000, {
    name: uniqueName('registry'),
    env: [`REGISTRY_USER=${username}`, `REGISTRY_PASSWORD=${password}`],
  });
  await waitForRegistry(started.url);
  const address = started.url.replace('http://', '');
  return {
    address,
    username,
    password,
    auth: { username, password, serveraddress: address },
    stop: started.remove,
  };
}

async function waitForRegistry(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const status = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`registry at ${url} did not come up`);
}

/** Tags a local image into the registry and pushes it; returns the pushed reference. */
export async function pushToRegistry(
  docker: Docker,
  registry: TestRegistry,
  localRef: string,
  repo: string,
  tag: string,
): Promise<string> {
  const target = `${registry.address}/${repo}`;
  await docker.getImage(localRef).tag({ repo: target, tag });
  const stream = await docker.getImage(`${target}:${tag}`).push({ authconfig: registry.auth });
  await followProgress(docker, stream);
  return `${target}:${tag}`;
}

/** Removes a local tag (not the image it points at). */
export async function untag(docker: Docker, ref: string): Promise<void> {
  await docker
    .getImage(ref)
    .remove({ noprune: true })
    .catch(() => undefined);
}

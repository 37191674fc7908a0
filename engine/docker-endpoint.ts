import Docker from 'dockerode';
import type { ContainerEngine } from './container-engine.js';
import { DockerEngine } from './docker-engine.js';
import { PilotlightError } from '../common/pilotlight-error.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export type DockerEndpoint =
  | { kind: 'socket'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https' };

/** Reads DOCKER_HOST from an env map (never from process.env directly, so tests can pass their own). */
export function dockerEndpointFromEnv(env: Record<string, string | undefined>): DockerEndpoint {
  const value = env['DOCKER_HOST'];
  if (!value) return { kind: 'socket', socketPath: DEFAULT_SOCKET };
  if (value.startsWith('unix://')) return { kind: 'socket', socketPath: value.slice('unix://'.length) };
  const match = /^(tcp|http|https):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(value);
  if (!match) {
    throw new PilotlightError(
      'BAD_DOCKER_HOST',
      `DOCKER_HOST=${value} is not understood: use unix:///path/to/docker.sock or tcp://HOST:PORT`,
      400,
    );
  }
  const [, scheme, host = '', port] = match;
  const protocol = scheme === 'https' || env['DOCKER_TLS_VERIFY'] === '1' ? 'https' : 'http';
  return { kind: 'tcp', host, port: port ? Number(port) : protocol === 'https' ? 2376 : 2375, protocol };
}

export function describeEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === 'socket'
    ? `unix://${endpoint.socketPath}`
    : `${endpoint.protocol}://${endpoint.host}:${endpoint.port}`;
}

/** The engine at an endpoint, behind the interface the runner and the image builds use. */
export function createEngine(endpoint: DockerEndpoint): ContainerEngine {
  return DockerEngine.at(endpoint);
}

/** A raw Docker client, for tests and benchmarks that act on the engine as a user would. */
export function createDocker(endpoint: DockerEndpoint): Docker {
  return endpoint.kind === 'socket'
    ? new Docker({ socketPath: endpoint.socketPath })
    : new Docker({ host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol });
}

import type Docker from 'dockerode';
import { appLaunchEnv, envList } from './adapter-env.js';
import { ADAPTER_ENTRYPOINT, ADAPTER_PORT, RUNTIME_MOUNT, type AdapterRuntime } from './adapter-runtime.js';
import type { AppImageConfig } from './image-config.js';

export interface AdapterContainerOptions {
  image: AppImageConfig;
  /** The image reference to run (a wrapped image needs no runtime mount). */
  ref: string;
  /** Present for mount mode: the runtime folder bind-mounted read-only. */
  runtime?: AdapterRuntime;
  appPort?: number;
  env?: Record<string, string>;
  labels: Record<string, string>;
  name?: string;
  /** Publish the adapter port on 127.0.0.1 (a free port), for callers outside the engine's network. */
  publish?: boolean;
}

/**
 * Create options for a container running the unchanged image behind the adapter. In mount mode the adapter
 * runtime is bind-mounted and the entrypoint overridden; the image's own ENTRYPOINT goes to the adapter through
 * its environment and the image's CMD stays the container's CMD.
 */
export function adapterContainerOptions(options: AdapterContainerOptions): Docker.ContainerCreateOptions {
  const port = `${ADAPTER_PORT}/tcp`;
  const launch = options.runtime
    ? appLaunchEnv(options.image, options.appPort)
    : appPortOnly(options.appPort);
  return {
    name: options.name,
    Image: options.ref,
    ...(options.runtime ? { Entrypoint: ADAPTER_ENTRYPOINT, Cmd: options.image.cmd } : {}),
    Env: envList({ ...launch, ...options.env }),
    Labels: options.labels,
    ExposedPorts: { [port]: {} },
    HostConfig: {
      Init: true,
      Binds: options.runtime ? [`${options.runtime.dir}:${RUNTIME_MOUNT}:ro`] : undefined,
      PortBindings: options.publish ? { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] } : undefined,
    },
  };
}

function appPortOnly(appPort: number | undefined): Record<string, string> {
  return appPort ? { PILOTLIGHT_APP_PORT: String(appPort) } : {};
}

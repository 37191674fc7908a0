import type { ContainerCreate } from '../../../engine/container-engine.js';
import { appLaunchEnv } from './adapter-env.js';
import { ADAPTER_PORT, RUNTIME_MOUNT, type AdapterRuntime } from './adapter-runtime.js';
import type { AppImageConfig } from './image-config.js';
import { ENV } from '../../../adapter/contract/contract.js';

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
 * A container running the unchanged image behind the adapter. In mount mode the adapter runtime is
 * bind-mounted and the entrypoint overridden; the image's own ENTRYPOINT goes to the adapter through its
 * environment and the image's CMD stays the container's CMD.
 */
export function adapterContainer(options: AdapterContainerOptions): ContainerCreate {
  const launch = options.runtime
    ? appLaunchEnv(options.image, options.appPort)
    : appPortOnly(options.appPort);
  return {
    name: options.name,
    image: options.ref,
    ...(options.runtime ? { entrypoint: options.runtime.entrypoint, cmd: options.image.cmd } : {}),
    env: { ...launch, ...options.env },
    labels: options.labels,
    exposedPorts: [ADAPTER_PORT],
    ...(options.publish ? { publishedPorts: [ADAPTER_PORT] } : {}),
    init: true,
    ...(options.runtime ? { readOnlyMounts: [{ source: options.runtime.dir, target: RUNTIME_MOUNT }] } : {}),
  };
}

function appPortOnly(appPort: number | undefined): Record<string, string> {
  return appPort ? { [ENV.appPort]: String(appPort) } : {};
}

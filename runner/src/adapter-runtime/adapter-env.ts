import { ENV } from '../../../adapter/contract/contract.js';
import type { AppImageConfig } from './image-config.js';

/** The adapter settings that make it start the image's own ENTRYPOINT and find the app's port. */
export function appLaunchEnv(image: AppImageConfig, appPort: number | undefined): Record<string, string> {
  const port = appPort ?? image.exposedPort;
  return {
    [ENV.appEntrypoint]: JSON.stringify(image.entrypoint),
    ...(port ? { [ENV.appPort]: String(port) } : {}),
  };
}

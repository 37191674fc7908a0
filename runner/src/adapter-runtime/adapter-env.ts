import type { AppImageConfig } from './image-config.js';

/** The adapter settings that make it start the image's own ENTRYPOINT and find the app's port. */
export function appLaunchEnv(image: AppImageConfig, appPort: number | undefined): Record<string, string> {
  const port = appPort ?? image.exposedPort;
  return {
    PILOTLIGHT_APP_ENTRYPOINT: JSON.stringify(image.entrypoint),
    ...(port ? { PILOTLIGHT_APP_PORT: String(port) } : {}),
  };
}

export function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

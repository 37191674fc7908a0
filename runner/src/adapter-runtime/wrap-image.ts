import type { ContextFile } from '../../../engine/build-context.js';
import type { ContainerEngine } from '../../../engine/container-engine.js';
import { managedLabels } from '../../../engine/labels.js';
import { appLaunchEnv } from './adapter-env.js';
import { ADAPTER_PORT, RUNTIME_MOUNT, type AdapterRuntime } from './adapter-runtime.js';
import { readAppImageConfig } from './image-config.js';
import { stat } from 'node:fs/promises';

export const LABEL_WRAPPED_FROM = 'pilotlight.wrapped-from';

/** `repo:tag` → `repo:tag-pilotlight` (a digest reference gets the tag `pilotlight`). */
export function defaultWrappedTag(ref: string): string {
  const withoutDigest = ref.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > lastSlash;
  const repo = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const tag = hasTag ? withoutDigest.slice(colon + 1) : 'latest';
  return ref.includes('@') ? `${repo}:pilotlight` : `${repo}:${tag}-pilotlight`;
}

/** Dockerfile string literal: a JSON array or value that survives Dockerfile parsing unchanged. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"$]/g, (match) => `\\${match}`)}"`;
}

export function wrapDockerfile(
  source: string,
  entrypoint: string[],
  launchEnv: Record<string, string>,
  cmd: string[],
): string {
  return [
    `FROM ${source}`,
    `COPY pilotlight/ ${RUNTIME_MOUNT}/`,
    ...Object.entries(launchEnv).map(([key, value]) => `ENV ${key}=${quoted(value)}`),
    `EXPOSE ${ADAPTER_PORT}`,
    `ENTRYPOINT ${JSON.stringify(entrypoint)}`,
    // Setting ENTRYPOINT clears the inherited CMD, so the original one is set again.
    ...(cmd.length > 0 ? [`CMD ${JSON.stringify(cmd)}`] : []),
    '',
  ].join('\n');
}

/**
 * Builds IMAGE-pilotlight: the original image plus one layer with the adapter runtime, whose entrypoint is
 * the launcher (or the adapter) starting the original ENTRYPOINT+CMD. Env, workdir and user are inherited unchanged.
 */
export async function wrapImage(
  engine: ContainerEngine,
  source: string,
  target: string,
  runtime: AdapterRuntime,
  options: { appPort?: number; log?: (line: string) => void } = {},
): Promise<string> {
  const image = await readAppImageConfig(engine, source);
  const dockerfile = wrapDockerfile(
    image.id,
    runtime.entrypoint,
    appLaunchEnv(image, options.appPort),
    image.cmd,
  );
  const files: ContextFile[] = [{ name: 'Dockerfile', mode: 0o644, content: Buffer.from(dockerfile) }];
  for (const file of runtime.files) {
    files.push({
      name: `pilotlight/${file.name}`,
      mode: file.mode,
      source: { path: file.path, size: (await stat(file.path)).size },
    });
  }
  await engine.build(files, target, managedLabels('wrapped-image', { [LABEL_WRAPPED_FROM]: source }));
  options.log?.(`wrapped ${source} as ${target}`);
  return target;
}

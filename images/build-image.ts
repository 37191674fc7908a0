import type Docker from 'dockerode';
import { ImageBuildError } from '../engine/engine-errors.js';
import { followProgress } from '../engine/follow-progress.js';
import { LABEL_SOURCE_HASH, managedLabels } from '../engine/labels.js';
import { hashContext, readContextFiles, tarContext, type ContextFile } from '../engine/build-context.js';
import type { ImageSpec } from './image-spec.js';

export type BuildOutcome = 'up-to-date' | 'built';

/**
 * Builds the image unless one with the same source digest (context bytes plus the base image id) exists.
 * The Engine's own layer cache makes a forced rebuild cheap too; the digest makes the common case free.
 */
export async function ensureBuiltImage(
  docker: Docker,
  spec: ImageSpec,
  baseImageId: string,
  log: (line: string) => void,
): Promise<BuildOutcome> {
  await spec.prepare?.();
  const files = await readContextFiles(spec.contextDir);
  const sourceHash = hashContext(files, [baseImageId]);
  if ((await existingSourceHash(docker, spec.ref)) === sourceHash) return 'up-to-date';

  log(`building ${spec.ref}`);
  const started = Date.now();
  await buildContext(docker, files, spec.ref, managedLabels(spec.kind, { [LABEL_SOURCE_HASH]: sourceHash }));
  log(`built ${spec.ref} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return 'built';
}

async function existingSourceHash(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(ref).inspect();
    return info.Config?.Labels?.[LABEL_SOURCE_HASH];
  } catch {
    return undefined;
  }
}

/** Builds a tar-streamed context into `ref`; a failure carries the build's last output lines. */
export async function buildContext(
  docker: Docker,
  files: ContextFile[],
  ref: string,
  labels: Record<string, string>,
): Promise<void> {
  const stream = await docker.buildImage(tarContext(files), {
    t: ref,
    rm: true,
    forcerm: true,
    labels,
  } as Docker.ImageBuildOptions);
  const output: string[] = [];
  try {
    await followProgress(docker, stream, (event) => {
      if (event.stream) output.push(event.stream);
    });
  } catch (error) {
    const recent = output.join('').trim().split('\n').slice(-12).join('\n');
    throw new ImageBuildError(ref, `${(error as Error).message}\n${recent}`);
  }
}

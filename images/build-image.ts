import type { ContainerEngine } from '../engine/container-engine.js';
import { LABEL_SOURCE_HASH, managedLabels } from '../engine/labels.js';
import { hashContext, readContextFiles } from '../engine/build-context.js';
import type { ImageSpec } from './image-spec.js';

export type BuildOutcome = 'up-to-date' | 'built';

/**
 * Builds the image unless one with the same source digest (context bytes plus the base image id) exists.
 * The Engine's own layer cache makes a forced rebuild cheap too; the digest makes the common case free.
 */
export async function ensureBuiltImage(
  engine: ContainerEngine,
  spec: ImageSpec,
  baseImageId: string,
  log: (line: string) => void,
): Promise<BuildOutcome> {
  await spec.prepare?.();
  const files = await readContextFiles(spec.contextDir);
  const sourceHash = hashContext(files, [baseImageId]);
  const existing = await engine.inspectImage(spec.ref);
  if (existing?.labels[LABEL_SOURCE_HASH] === sourceHash) return 'up-to-date';

  log(`building ${spec.ref}`);
  const started = Date.now();
  await engine.build(files, spec.ref, managedLabels(spec.kind, { [LABEL_SOURCE_HASH]: sourceHash }));
  log(`built ${spec.ref} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return 'built';
}

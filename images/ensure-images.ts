import type { ContainerEngine } from '../engine/container-engine.js';
import type { HostFacts } from '../host/host-facts.js';
import type { ProcessRunner } from '../host/process-runner.js';
import { ensureBaseImage } from './base-image.js';
import { ensureBuiltImage } from './build-image.js';
import { imageCatalog } from './catalog.js';

export interface EnsureImagesOptions {
  engine: ContainerEngine;
  processes: ProcessRunner;
  host: HostFacts;
  mirror: string;
  forTests: boolean;
  log: (line: string) => void;
}

/** Builds the base image, then every image built FROM it, each only when its sources changed. */
export async function ensureImages(options: EnsureImagesOptions): Promise<void> {
  const baseId = await ensureBaseImage(options);
  for (const spec of imageCatalog(options.processes, { forTests: options.forTests })) {
    await ensureBuiltImage(options.engine, spec, baseId, options.log);
  }
}

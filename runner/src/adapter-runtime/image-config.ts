import { PilotlightError } from '../../../common/pilotlight-error.js';
import type { ContainerEngine } from '../../../engine/container-engine.js';

/** The parts of an image's config the adapter needs to start the app as the image would. */
export interface AppImageConfig {
  id: string;
  entrypoint: string[];
  cmd: string[];
  /** The first exposed TCP port, if any. */
  exposedPort: number | undefined;
}

export class ImageNotFoundError extends PilotlightError {
  constructor(ref: string) {
    super('IMAGE_NOT_FOUND', `image ${ref} is not on this Docker engine: pull or build it first`, 404);
  }
}

export async function readAppImageConfig(engine: ContainerEngine, ref: string): Promise<AppImageConfig> {
  const image = await engine.inspectImage(ref);
  if (!image) throw new ImageNotFoundError(ref);
  return { id: image.id, entrypoint: image.entrypoint, cmd: image.cmd, exposedPort: image.exposedPorts[0] };
}

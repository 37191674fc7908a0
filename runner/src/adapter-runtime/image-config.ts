import type Docker from 'dockerode';
import { PilotlightError } from '../../../common/pilotlight-error.js';

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

export async function readAppImageConfig(docker: Docker, ref: string): Promise<AppImageConfig> {
  let info: Docker.ImageInspectInfo;
  try {
    info = await docker.getImage(ref).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) throw new ImageNotFoundError(ref);
    throw error;
  }
  const ports = Object.keys(info.Config?.ExposedPorts ?? {})
    .filter((key) => key.endsWith('/tcp'))
    .map((key) => Number.parseInt(key, 10))
    .sort((a, b) => a - b);
  return {
    id: info.Id,
    entrypoint: asList(info.Config?.Entrypoint),
    cmd: asList(info.Config?.Cmd),
    exposedPort: ports[0],
  };
}

function asList(value: string | string[] | null | undefined): string[] {
  if (!value) return [];
  return Array.isArray(value) ? value : [value];
}

import type { ContainerEngine, ImageDetails } from '../../../engine/container-engine.js';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import type { ProgressEvent } from '../../../engine/follow-progress.js';
import { registryHost, type RegistryAuth } from './registry-auth.js';

export class PullError extends PilotlightError {}

export interface PulledImage {
  /** The local image id (sha256 of its config). */
  id: string;
  /** repo@sha256:… the tag resolved to, when the image came from a registry. */
  digest: string | undefined;
  pulled: boolean;
}

export type PullPolicy = 'always' | 'missing' | 'never';

/** Registry refs are pulled every deploy (a tag may have moved); bare local names only when missing. */
export function defaultPullPolicy(ref: string): PullPolicy {
  return registryHost(ref) === 'docker.io' ? 'missing' : 'always';
}

/**
 * Pulls an image, reporting progress, and turns the Engine's failures (many of which arrive inside a 200
 * stream) into one clear error: not found, wrong credentials, registry unreachable.
 */
export async function pullImage(
  engine: ContainerEngine,
  ref: string,
  options: { auth?: RegistryAuth; policy?: PullPolicy; onProgress?: (event: ProgressEvent) => void } = {},
): Promise<PulledImage> {
  const policy = options.policy ?? defaultPullPolicy(ref);
  const local = await engine.inspectImage(ref);
  if (policy === 'never' || (policy === 'missing' && local)) {
    if (!local) {
      throw new PullError(
        'IMAGE_NOT_FOUND',
        `image ${ref} is not on this engine and --pull never forbids pulling it`,
        404,
      );
    }
    return { id: local.id, digest: digestFor(local, ref), pulled: false };
  }
  try {
    await engine.pull(ref, options.auth, options.onProgress);
  } catch (error) {
    throw explainPullFailure(ref, error as Error);
  }
  const pulled = await engine.inspectImage(ref);
  if (!pulled)
    throw new PullError('PULL_FAILED', `pulling ${ref} finished but the engine does not list the image`, 502);
  return { id: pulled.id, digest: digestFor(pulled, ref), pulled: true };
}

export function explainPullFailure(ref: string, error: Error & { json?: { message?: string } }): PullError {
  const host = registryHost(ref);
  const message = error.json?.message ?? error.message;
  if (/unauthorized|authentication required|no basic auth credentials|denied/i.test(message)) {
    return new PullError(
      'REGISTRY_AUTH',
      `registry ${host} refused the credentials for ${ref}: pass --username and --password, or run docker login ${host}`,
      401,
    );
  }
  if (/manifest unknown|not found|does not exist|no such image/i.test(message)) {
    return new PullError(
      'IMAGE_NOT_FOUND',
      `image ${ref} was not found in registry ${host}: check the name and the tag`,
      404,
    );
  }
  if (
    /connection refused|no such host|dial tcp|timeout|i\/o timeout|network is unreachable|EOF/i.test(message)
  ) {
    return new PullError(
      'REGISTRY_UNREACHABLE',
      `cannot reach registry ${host} to pull ${ref}: is it running and reachable from the engine? (${message.trim()})`,
      502,
    );
  }
  return new PullError('PULL_FAILED', `pulling ${ref} failed: ${message.trim()}`, 502);
}

function digestFor(info: ImageDetails, ref: string): string | undefined {
  const repo = ref.split('@')[0]!.replace(/:[^:/]+$/, '');
  return info.repoDigests.find((digest) => digest.startsWith(`${repo}@`)) ?? info.repoDigests[0];
}

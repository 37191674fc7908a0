import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** The registry host of an image reference, or docker.io when it names none. */
export function registryHost(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  const hasHost = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return hasHost ? first : 'docker.io';
}

/** Credentials for a host from a Docker config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json). */
export function authFromDockerConfig(
  host: string,
  env: Record<string, string | undefined>,
): RegistryAuth | undefined {
  const path = join(env['DOCKER_CONFIG'] ?? join(env['HOME'] ?? homedir(), '.docker'), 'config.json');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const candidates = [
    host,
    `http://${host}`,
    `https://${host}`,
    ...(host === 'docker.io' ? ['https://index.docker.io/v1/'] : []),
  ];
  for (const key of candidates) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0)
        return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host };
    }
    if (entry.username && entry.password)
      return { username: entry.username, password: entry.password, serveraddress: host };
  }
  return undefined;
}

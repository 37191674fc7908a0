import { readFileSync } from 'node:fs';
import { ENV, ENV_PREFIX } from '../contract/contract.js';
import { AdapterConfigError } from './config.js';

/**
 * The environment given on stdin (`PILOTLIGHT_ENV_ON_STDIN=1`): a JSON array of `NAME=VALUE` strings. The runner
 * gives secrets this way, so that the engine keeps no copy of them. The native launcher reads them itself when
 * the container has one, and clears the setting.
 */
export function parseEnvOnStdin(text: string): Record<string, string> {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    throw new AdapterConfigError(
      `${ENV.envOnStdin}=1, but stdin is not a complete JSON array of NAME=VALUE strings (${text.length} bytes read)`,
    );
  }
  if (!Array.isArray(entries))
    throw new AdapterConfigError(`${ENV.envOnStdin}=1, but stdin is not a JSON array`);
  const env: Record<string, string> = {};
  for (const entry of entries as unknown[]) {
    const at = typeof entry === 'string' ? entry.indexOf('=') : -1;
    const name = at > 0 ? (entry as string).slice(0, at) : '';
    if (!name || name.startsWith(ENV_PREFIX) || (entry as string).includes('\0')) {
      throw new AdapterConfigError(
        `${ENV.envOnStdin}: an entry on stdin is not NAME=VALUE with a NAME outside ${ENV_PREFIX}*`,
      );
    }
    env[name] = (entry as string).slice(at + 1);
  }
  return env;
}

/** Adds the environment on stdin to `env` when it says so, and clears the setting; stdin is read to its end. */
export function takeEnvOnStdin(
  env: Record<string, string | undefined>,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): void {
  if (env[ENV.envOnStdin] !== '1') return;
  Object.assign(env, parseEnvOnStdin(readStdin()));
  delete env[ENV.envOnStdin];
}

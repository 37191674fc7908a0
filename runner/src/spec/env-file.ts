import { readFileSync } from 'node:fs';
import { PilotlightError } from '../../../common/pilotlight-error.js';

/**
 * An env file read the way `docker run --env-file` reads it: one KEY=VALUE per line, the value kept exactly
 * as written (quotes included); blank lines and lines starting with # are skipped; a bare KEY takes its value
 * from the environment given, and is left out when it has none there.
 */
export function readEnvFile(path: string, env: Record<string, string | undefined>): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PilotlightError('BAD_ENV_FILE', `--env-file ${path}: ${(error as Error).message}`, 400);
  }
  const entries: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq);
    if (!key || /\s/.test(key)) {
      throw new PilotlightError(
        'BAD_ENV_FILE',
        `--env-file ${path} line ${index + 1}: ${JSON.stringify(key)} is not a variable name (no spaces allowed)`,
        400,
      );
    }
    if (eq !== -1) entries.push(line);
    else if (env[key] !== undefined) entries.push(`${key}=${env[key]}`);
  });
  return entries;
}

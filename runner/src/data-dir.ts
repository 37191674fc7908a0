import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** --data-dir wins, then PILOTLIGHT_HOME, then ~/.pilotlight. */
export function resolveDataDir(flag: string | undefined, env: Record<string, string | undefined>): string {
  const dir = resolve(flag || env['PILOTLIGHT_HOME'] || join(homedir(), '.pilotlight'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PilotlightError } from '../../common/pilotlight-error.js';

/**
 * The files of a data directory that hold secrets: the control token, the key stored secrets are sealed
 * with, and the databases (every function's environment, async events' payloads) with the WAL and
 * shared-memory files SQLite keeps beside them.
 */
export const PRIVATE_FILES: readonly string[] = [
  'token',
  'secrets.key',
  ...['state.db', 'invocations.db'].flatMap((db) => [db, `${db}-wal`, `${db}-shm`]),
];

/** Permission bits of a path, or undefined when there is nothing there. */
export type ModeOf = (path: string) => number | undefined;

export class StateFilesExposedError extends PilotlightError {
  constructor(exposed: Array<{ path: string; mode: number; directory: boolean }>) {
    const named = exposed.map(({ path, mode }) => `${path} (mode ${octal(mode)})`).join(', ');
    const dirs = exposed.filter((item) => item.directory).map((item) => item.path);
    const files = exposed.filter((item) => !item.directory).map((item) => item.path);
    const fix = [
      ...(dirs.length ? [`chmod 700 ${dirs.join(' ')}`] : []),
      ...(files.length ? [`chmod 600 ${files.join(' ')}`] : []),
    ].join(' && ');
    const one = exposed.length === 1;
    super(
      'STATE_FILES_EXPOSED',
      `${named} ${one ? 'is' : 'are'} open to group or others, and ${one ? 'holds' : 'hold'} the runner's secrets: run \`${fix}\``,
      409,
      { paths: exposed.map((item) => item.path) },
    );
  }
}

/**
 * Refuses a data directory that group or others may read or write (it must be 0700), or whose secret files
 * are (they must be 0600). Files not there yet are fine: the runner creates them private.
 */
export function checkStateFiles(dataDir: string, modeOf: ModeOf = statMode): void {
  const exposed = [
    { path: dataDir, directory: true },
    ...PRIVATE_FILES.map((file) => ({ path: join(dataDir, file), directory: false })),
  ].flatMap(({ path, directory }) => {
    const mode = modeOf(path);
    return mode !== undefined && (mode & 0o077) !== 0 ? [{ path, mode, directory }] : [];
  });
  if (exposed.length > 0) throw new StateFilesExposedError(exposed);
}

function statMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

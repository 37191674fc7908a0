import { PilotlightError } from '../../../common/pilotlight-error.js';

/** SQLite's result code for a write that found no space left (SQLITE_FULL). */
const SQLITE_FULL = 13;

export class StorageFullError extends PilotlightError {
  constructor(detail: string) {
    super(
      'STORAGE_FULL',
      `the runner's data directory has no space left (${detail}): nothing was stored; free some space and retry`,
      507,
    );
  }
}

/** A failure of SQLite that a caller can act on, as an error with a code; any other as it is. */
export function storageError(error: unknown): unknown {
  const failure = error as { errcode?: number; message?: string };
  if (failure?.errcode === SQLITE_FULL || /database or disk is full/i.test(failure?.message ?? '')) {
    return new StorageFullError(failure.message ?? 'disk full');
  }
  return error;
}

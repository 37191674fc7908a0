import type { DatabaseSync } from 'node:sqlite';
import { storageError } from './storage-errors.js';

/**
 * Runs `work` in one write transaction (taken at once, so writers queue instead of failing midway). SQLite
 * rolls back by itself after some failures (a full disk): a second ROLLBACK would then fail and hide the first.
 */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  try {
    db.exec('BEGIN IMMEDIATE');
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw storageError(error);
  }
}

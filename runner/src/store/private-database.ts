import { closeSync, openSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

/**
 * Opens a SQLite database, creating its file readable and writable by its owner only. SQLite gives the WAL
 * and shared-memory files it makes beside a database the database file's own mode, whatever the umask.
 */
export function openPrivateDatabase(path: string): DatabaseSync {
  if (path !== ':memory:' && path !== '') closeSync(openSync(path, 'a', 0o600));
  return new DatabaseSync(path);
}

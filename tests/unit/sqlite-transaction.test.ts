import { DatabaseSync } from 'node:sqlite';
import { describe, expect, test } from '@jest/globals';
import { inTransaction } from '../../runner/src/store/sqlite-transaction.js';
import { StorageFullError } from '../../runner/src/store/storage-errors.js';

describe('a write transaction', () => {
  test('a full database is STORAGE_FULL (507), not hidden by a second rollback, and nothing is kept', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (v BLOB)');
    const pages = (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    db.exec(`PRAGMA max_page_count = ${pages + 2}`); // SQLite's own "database or disk is full"
    let failure: unknown;
    try {
      inTransaction(db, () => {
        db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096));
        db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(1024 * 1024));
      });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StorageFullError);
    expect(failure).toMatchObject({ code: 'STORAGE_FULL', status: 507 });
    expect((failure as Error).message).toContain('database or disk is full');
    expect(db.isTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 0 });
  });

  test('any other failure is thrown as it is, after the rollback', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    expect(() =>
      inTransaction(db, () => {
        db.prepare('INSERT INTO t VALUES (1)').run();
        throw new Error('the work failed');
      }),
    ).toThrow('the work failed');
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 0 });
  });
});

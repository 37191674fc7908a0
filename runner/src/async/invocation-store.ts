import type { DatabaseSync } from 'node:sqlite';
import { openPrivateDatabase } from '../store/private-database.js';
import { inTransaction } from '../store/sqlite-transaction.js';

export type InvocationState = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'expired';

export const TERMINAL_STATES: ReadonlySet<InvocationState> = new Set(['succeeded', 'failed', 'expired']);

export interface Attempt {
  at: number;
  durationMs: number;
  instance: string | null;
  /** The app's status, or the code of the error that ended the attempt. */
  status: number | string;
  outcome: string;
  error?: string;
}

export interface Invocation {
  id: string;
  function: string;
  state: InvocationState;
  contentType: string;
  payload: Buffer;
  acceptedAt: number;
  updatedAt: number;
  nextAttemptAt: number;
  attempts: Attempt[];
  lastError: string | null;
  /** The app's answer when it succeeded (up to 64 KiB). */
  result: string | null;
  /** Where the record of its end goes (a URL, or function:NAME), when the function has a destination. */
  destination: string | null;
  delivery: DeliveryState | null;
  deliveryAttempts: number;
  deliveryError: string | null;
}

/** A destination record: owed until delivered; past its retries it is dead-lettered (and can be redelivered). */
export type DeliveryState = 'owed' | 'delivered' | 'dead-letter';

export interface NewInvocation {
  id: string;
  function: string;
  contentType: string;
  payload: Buffer;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS invocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    function TEXT NOT NULL,
    state TEXT NOT NULL,
    content_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts TEXT NOT NULL DEFAULT '[]',
    last_error TEXT,
    result TEXT,
    destination TEXT,
    delivery TEXT,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    delivery_next_at INTEGER,
    delivery_error TEXT
  );
  CREATE INDEX IF NOT EXISTS invocations_due ON invocations (function, state, next_attempt_at, seq);
  CREATE INDEX IF NOT EXISTS invocations_deliveries ON invocations (delivery, delivery_next_at);
`;

interface Row {
  id: string;
  function: string;
  state: InvocationState;
  content_type: string;
  payload: Uint8Array;
  accepted_at: number;
  updated_at: number;
  next_attempt_at: number;
  attempts: string;
  last_error: string | null;
  result: string | null;
  destination: string | null;
  delivery: DeliveryState | null;
  delivery_attempts: number;
  delivery_error: string | null;
}

function fromRow(row: Row): Invocation {
  return {
    id: row.id,
    function: row.function,
    state: row.state,
    contentType: row.content_type,
    payload: Buffer.from(row.payload),
    acceptedAt: row.accepted_at,
    updatedAt: row.updated_at,
    nextAttemptAt: row.next_attempt_at,
    attempts: JSON.parse(row.attempts) as Attempt[],
    lastError: row.last_error,
    result: row.result,
    destination: row.destination,
    delivery: row.delivery,
    deliveryAttempts: row.delivery_attempts,
    deliveryError: row.delivery_error,
  };
}

/**
 * Async invocations in their own SQLite file, in WAL mode with synchronous=FULL: an event is on disk
 * (fsynced) before its acceptance is answered. Events are taken in the order they came, per function.
 */
export class InvocationStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = openPrivateDatabase(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
    this.addMissingColumns();
  }

  /** A file made before destinations existed gets their columns. */
  private addMissingColumns(): void {
    const columns = new Set(
      (this.db.prepare('PRAGMA table_info(invocations)').all() as Array<{ name: string }>).map((c) => c.name),
    );
    const wanted: Array<[string, string]> = [
      ['destination', 'TEXT'],
      ['delivery', 'TEXT'],
      ['delivery_attempts', 'INTEGER NOT NULL DEFAULT 0'],
      ['delivery_next_at', 'INTEGER'],
      ['delivery_error', 'TEXT'],
    ];
    for (const [name, type] of wanted) {
      if (!columns.has(name)) this.db.exec(`ALTER TABLE invocations ADD COLUMN ${name} ${type}`);
    }
  }

  /**
   * Stores new events in one transaction (one fsync for the batch). An id that is already stored is not
   * stored again: the first event's record is returned for it, marked `duplicate`.
   */
  enqueue(items: NewInvocation[], now: number): Array<{ invocation: Invocation; duplicate: boolean }> {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO invocations (id, function, state, content_type, payload, accepted_at, updated_at, next_attempt_at)
       VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)`,
    );
    return this.transaction(() =>
      items.map((item) => {
        const { changes } = insert.run(item.id, item.function, item.contentType, item.payload, now, now, now);
        return { invocation: this.get(item.id)!, duplicate: changes === 0 };
      }),
    );
  }

  get(id: string): Invocation | undefined {
    const row = this.db.prepare('SELECT * FROM invocations WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(fn: string, state?: InvocationState, limit = 100): Invocation[] {
    const rows = (state
      ? this.db
          .prepare('SELECT * FROM invocations WHERE function = ? AND state = ? ORDER BY seq DESC LIMIT ?')
          .all(fn, state, limit)
      : this.db
          .prepare('SELECT * FROM invocations WHERE function = ? ORDER BY seq DESC LIMIT ?')
          .all(fn, limit)) as unknown as Row[];
    return rows.reverse().map(fromRow);
  }

  /** Marks up to `limit` due events of a function running, oldest first, and returns them. */
  claimDue(fn: string, now: number, limit: number): Invocation[] {
    if (limit <= 0) return [];
    return this.transaction(() => {
      const rows = this.db
        .prepare(
          `SELECT * FROM invocations WHERE function = ? AND state IN ('queued', 'retrying') AND next_attempt_at <= ?
           ORDER BY seq LIMIT ?`,
        )
        .all(fn, now, limit) as unknown as Row[];
      const mark = this.db.prepare("UPDATE invocations SET state = 'running', updated_at = ? WHERE id = ?");
      for (const row of rows) mark.run(now, row.id);
      return rows.map((row) => fromRow({ ...row, state: 'running' }));
    });
  }

  /** The earliest moment an event of the function is due, if any waits. */
  nextDue(fn: string): number | undefined {
    const row = this.db
      .prepare(
        "SELECT MIN(next_attempt_at) AS at FROM invocations WHERE function = ? AND state IN ('queued', 'retrying')",
      )
      .get(fn) as { at: number | null };
    return row.at ?? undefined;
  }

  /** Records an attempt and the state it leads to. */
  finishAttempt(
    id: string,
    attempt: Attempt,
    next: {
      state: InvocationState;
      at?: number;
      error?: string | null;
      result?: string | null;
      /** Set when the event ends and the function has a destination for how it ended: the record is owed. */
      destination?: string;
    },
    now: number,
  ): void {
    const current = this.get(id);
    if (!current) return;
    this.db
      .prepare(
        `UPDATE invocations SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, result = ?, updated_at = ?,
           destination = COALESCE(?, destination), delivery = CASE WHEN ? IS NULL THEN delivery ELSE 'owed' END,
           delivery_next_at = CASE WHEN ? IS NULL THEN delivery_next_at ELSE ? END
         WHERE id = ?`,
      )
      .run(
        next.state,
        JSON.stringify([...current.attempts, attempt]),
        next.at ?? current.nextAttemptAt,
        next.error === undefined ? current.lastError : next.error,
        next.result ?? null,
        now,
        next.destination ?? null,
        next.destination ?? null,
        next.destination ?? null,
        now,
        id,
      );
  }

  /**
   * After a restart, events that were running were cut off with the runner: each counts an attempt that
   * ended in a system error, and goes back to the queue.
   */
  requeueRunning(now: number): number {
    const running = this.db
      .prepare("SELECT * FROM invocations WHERE state = 'running'")
      .all() as unknown as Row[];
    this.transaction(() => {
      for (const row of running) {
        this.finishAttempt(
          row.id,
          {
            at: row.updated_at,
            durationMs: now - row.updated_at,
            instance: null,
            status: 'RUNNER_RESTARTED',
            outcome: 'system-error',
          },
          { state: 'queued', at: now, error: 'the runner stopped while the event was running' },
          now,
        );
      }
    });
    return running.length;
  }

  /** Events of a function not yet in a terminal state. */
  pending(fn: string): number {
    const row = this.db
      .prepare(
        "SELECT COUNT(*) AS n FROM invocations WHERE function = ? AND state IN ('queued', 'running', 'retrying')",
      )
      .get(fn) as { n: number };
    return row.n;
  }

  /**
   * Forgets finished events: those older than `maxAgeMs`, and beyond the newest `keep` of them. Events not
   * finished are never touched.
   */
  prune(now: number, limits: { maxAgeMs: number; keep: number }): number {
    return this.transaction(() => {
      const old = this.db
        .prepare(
          `DELETE FROM invocations WHERE state IN ('succeeded', 'failed', 'expired') AND updated_at < ?
           AND (delivery IS NULL OR delivery = 'delivered')`,
        )
        .run(now - limits.maxAgeMs).changes;
      const beyond = this.db
        .prepare(
          `DELETE FROM invocations WHERE state IN ('succeeded', 'failed', 'expired')
           AND (delivery IS NULL OR delivery = 'delivered') AND seq NOT IN (
             SELECT seq FROM invocations WHERE state IN ('succeeded', 'failed', 'expired') ORDER BY seq DESC LIMIT ?)`,
        )
        .run(limits.keep).changes;
      return Number(old) + Number(beyond);
    });
  }

  /** Owed destination records due now, oldest first. */
  deliveriesDue(now: number, limit: number): Invocation[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM invocations WHERE delivery = 'owed' AND delivery_next_at <= ? ORDER BY delivery_next_at, seq LIMIT ?",
      )
      .all(now, limit) as unknown as Row[];
    return rows.map(fromRow);
  }

  /** When the next owed record is due, if any is owed. */
  nextDeliveryDue(): number | undefined {
    const row = this.db
      .prepare("SELECT MIN(delivery_next_at) AS at FROM invocations WHERE delivery = 'owed'")
      .get() as { at: number | null };
    return row.at ?? undefined;
  }

  /** Records a delivery attempt: delivered, tried again at `retryAt`, or dead-lettered. */
  deliveryAttempted(
    id: string,
    result: { state: DeliveryState; retryAt?: number; error?: string },
    now: number,
  ): void {
    this.db
      .prepare(
        `UPDATE invocations SET delivery = ?, delivery_attempts = delivery_attempts + 1, delivery_next_at = ?,
           delivery_error = ?, updated_at = ? WHERE id = ?`,
      )
      .run(result.state, result.retryAt ?? null, result.error ?? null, now, id);
  }

  /** Owes a dead-lettered (or delivered) record again, from a fresh count of attempts. */
  redeliver(id: string, now: number): boolean {
    return (
      this.db
        .prepare(
          `UPDATE invocations SET delivery = 'owed', delivery_attempts = 0, delivery_next_at = ?, delivery_error = NULL
           WHERE id = ? AND destination IS NOT NULL`,
        )
        .run(now, id).changes > 0
    );
  }

  /** Drops a function's events that have not started; returns how many. */
  discardWaiting(fn: string): number {
    return Number(
      this.db
        .prepare("DELETE FROM invocations WHERE function = ? AND state IN ('queued', 'retrying')")
        .run(fn).changes,
    );
  }

  close(): void {
    this.db.close();
  }

  private transaction<T>(work: () => T): T {
    return inTransaction(this.db, work);
  }
}

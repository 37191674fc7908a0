import { DatabaseSync } from 'node:sqlite';

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
}

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
    result TEXT
  );
  CREATE INDEX IF NOT EXISTS invocations_due ON invocations (function, state, next_attempt_at, seq);
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
  };
}

/**
 * Async invocations in their own SQLite file, in WAL mode with synchronous=FULL: an event is on disk
 * (fsynced) before its acceptance is answered. Events are taken in the order they came, per function.
 */
export class InvocationStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
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
    next: { state: InvocationState; at?: number; error?: string | null; result?: string | null },
    now: number,
  ): void {
    const current = this.get(id);
    if (!current) return;
    this.db
      .prepare(
        `UPDATE invocations SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, result = ?, updated_at = ?
         WHERE id = ?`,
      )
      .run(
        next.state,
        JSON.stringify([...current.attempts, attempt]),
        next.at ?? current.nextAttemptAt,
        next.error === undefined ? current.lastError : next.error,
        next.result ?? null,
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
          `DELETE FROM invocations WHERE state IN ('succeeded', 'failed', 'expired') AND updated_at < ?`,
        )
        .run(now - limits.maxAgeMs).changes;
      const beyond = this.db
        .prepare(
          `DELETE FROM invocations WHERE state IN ('succeeded', 'failed', 'expired') AND seq NOT IN (
             SELECT seq FROM invocations WHERE state IN ('succeeded', 'failed', 'expired') ORDER BY seq DESC LIMIT ?)`,
        )
        .run(limits.keep).changes;
      return Number(old) + Number(beyond);
    });
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
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }
}

import type { DatabaseSync } from 'node:sqlite';
import { openPrivateDatabase } from './private-database.js';
import { inTransaction } from './sqlite-transaction.js';
import { defaultAdapterSettings, defaultAsyncSettings } from '../spec/deploy-request.js';
import type { FunctionSpec } from '../spec/function-spec.js';

export interface InstanceEvent {
  at: number;
  function: string;
  instance: string;
  action: string;
  detail: Record<string, unknown>;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS instance_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    function TEXT NOT NULL,
    instance TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS instance_events_by_function ON instance_events (function, id);
`;

/**
 * The runner's durable state in one SQLite file (WAL mode, so readers never wait for the writer), through
 * Node's built-in SQLite: nothing to compile at install.
 */
export class StateStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = openPrivateDatabase(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
  }

  /** Stores a function, giving it the next revision number; returns the stored spec. */
  putFunction(spec: Omit<FunctionSpec, 'revision'>, now: number): FunctionSpec {
    return this.transaction(() => {
      const previous = this.getFunction(spec.name);
      const stored: FunctionSpec = { ...spec, revision: (previous?.revision ?? 0) + 1 };
      this.db
        .prepare(
          'INSERT INTO functions (name, spec, revision, updated_at) VALUES (?, ?, ?, ?) ' +
            'ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, revision = excluded.revision, updated_at = excluded.updated_at',
        )
        .run(spec.name, JSON.stringify(stored), stored.revision, now);
      return stored;
    });
  }

  /** Writes a function as it is, keeping its revision (a change of scale is not a new revision). */
  saveFunction(spec: FunctionSpec, now: number): void {
    this.db
      .prepare('UPDATE functions SET spec = ?, revision = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(spec), spec.revision, now, spec.name);
  }

  getFunction(name: string): FunctionSpec | undefined {
    const row = this.db.prepare('SELECT spec FROM functions WHERE name = ?').get(name) as
      { spec: string } | undefined;
    return row ? specFrom(row.spec) : undefined;
  }

  listFunctions(): FunctionSpec[] {
    const rows = this.db.prepare('SELECT spec FROM functions ORDER BY name').all() as Array<{ spec: string }>;
    return rows.map((row) => specFrom(row.spec));
  }

  removeFunction(name: string): boolean {
    return this.db.prepare('DELETE FROM functions WHERE name = ?').run(name).changes > 0;
  }

  recordInstanceEvent(event: InstanceEvent): void {
    this.db
      .prepare('INSERT INTO instance_events (at, function, instance, action, detail) VALUES (?, ?, ?, ?, ?)')
      .run(event.at, event.function, event.instance, event.action, JSON.stringify(event.detail));
  }

  instanceEvents(fn: string, limit = 100): InstanceEvent[] {
    const rows = this.db
      .prepare(
        'SELECT at, function, instance, action, detail FROM instance_events WHERE function = ? ORDER BY id DESC LIMIT ?',
      )
      .all(fn, limit) as Array<Omit<InstanceEvent, 'detail'> & { detail: string }>;
    return rows
      .reverse()
      .map((row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown> }));
  }

  private transaction<T>(work: () => T): T {
    return inTransaction(this.db, work);
  }

  close(): void {
    this.db.close();
  }
}

/** A stored spec; one stored before the adapter or async settings were part of it gets their defaults. */
function specFrom(json: string): FunctionSpec {
  const spec = JSON.parse(json) as Partial<FunctionSpec> & Omit<FunctionSpec, 'adapter' | 'async'>;
  return {
    ...spec,
    adapter: spec.adapter ?? defaultAdapterSettings(),
    async: spec.async ?? defaultAsyncSettings(),
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { InvocationStore } from '../../runner/src/async/invocation-store.js';
import { checkStateFiles, type ModeOf } from '../../runner/src/state-files.js';
import { StateStore } from '../../runner/src/store/state-store.js';

const DIR = '/srv/pilotlight';

/** A data directory as modes by path; a path not listed is not there. */
function modes(entries: Record<string, number>): ModeOf {
  return (path) => entries[path];
}

function refusal(modeOf: ModeOf): { code: string; message: string } | undefined {
  try {
    checkStateFiles(DIR, modeOf);
    return undefined;
  } catch (error) {
    return error as { code: string; message: string };
  }
}

describe('checkStateFiles', () => {
  test('a private directory with private files passes, and files not made yet are fine', () => {
    expect(
      refusal(modes({ [DIR]: 0o700, [`${DIR}/token`]: 0o600, [`${DIR}/state.db`]: 0o600 })),
    ).toBeUndefined();
    expect(refusal(modes({ [DIR]: 0o700 }))).toBeUndefined();
  });

  test('a state database readable by others is refused in one line naming the file and the chmod', () => {
    const error = refusal(modes({ [DIR]: 0o700, [`${DIR}/token`]: 0o600, [`${DIR}/state.db`]: 0o644 }));
    expect(error?.code).toBe('STATE_FILES_EXPOSED');
    expect(error?.message).toBe(
      `${DIR}/state.db (mode 0644) is open to group or others, and holds the runner's secrets: run \`chmod 600 ${DIR}/state.db\``,
    );
    expect(error?.message).not.toContain('\n');
  });

  test('group-writable counts as open too, and so do the WAL and shared-memory files', () => {
    expect(refusal(modes({ [DIR]: 0o700, [`${DIR}/token`]: 0o620 }))?.message).toContain(
      `chmod 600 ${DIR}/token`,
    );
    expect(refusal(modes({ [DIR]: 0o700, [`${DIR}/state.db-wal`]: 0o640 }))?.message).toContain(
      `chmod 600 ${DIR}/state.db-wal`,
    );
    expect(refusal(modes({ [DIR]: 0o700, [`${DIR}/invocations.db-shm`]: 0o604 }))?.message).toContain(
      `chmod 600 ${DIR}/invocations.db-shm`,
    );
  });

  test('an open directory and several open files are named together with one fix', () => {
    const error = refusal(
      modes({
        [DIR]: 0o755,
        [`${DIR}/state.db`]: 0o644,
        [`${DIR}/state.db-wal`]: 0o644,
        [`${DIR}/token`]: 0o600,
      }),
    );
    expect(error?.message).toBe(
      `${DIR} (mode 0755), ${DIR}/state.db (mode 0644), ${DIR}/state.db-wal (mode 0644) are open to group or others, ` +
        `and hold the runner's secrets: run \`chmod 700 ${DIR} && chmod 600 ${DIR}/state.db ${DIR}/state.db-wal\``,
    );
  });
});

describe('the databases on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pilotlight-private-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const mode = (file: string): number => statSync(join(dir, file)).mode & 0o777;

  test('state.db and invocations.db come out 0600, and so do the WAL and shared-memory files SQLite makes', () => {
    const store = new StateStore(join(dir, 'state.db'));
    store.recordInstanceEvent({ at: 1, function: 'shop', instance: 'shop-1', action: 'start', detail: {} });
    const invocations = new InvocationStore(join(dir, 'invocations.db'));
    try {
      for (const db of ['state.db', 'invocations.db']) {
        expect({ db, modes: [mode(db), mode(`${db}-wal`), mode(`${db}-shm`)] }).toEqual({
          db,
          modes: [0o600, 0o600, 0o600],
        });
      }
      expect(() => checkStateFiles(dir)).not.toThrow();
    } finally {
      store.close();
      invocations.close();
    }
  });
});

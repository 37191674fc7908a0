import type { Confinement } from '../../../engine/container-engine.js';
import type { IsolationSettings } from '../spec/deploy-request.js';
import { DEFAULT_CAPABILITIES, READ_ONLY_TMP_BYTES } from '../spec/function-schema.js';

/**
 * Every instance runs with all capabilities dropped but the allowlist (plus the function's own additions, less
 * its removals), with no new privileges and a pids limit; its root is read-only (with a tmpfs on /tmp) when the
 * function asks. Docker's defaults give the rest: its seccomp profile, no host namespace, not privileged.
 */
export function instanceConfinement(isolation: IsolationSettings): Confinement {
  const capabilities = new Set([...DEFAULT_CAPABILITIES, ...isolation.capAdd]);
  for (const dropped of isolation.capDrop) capabilities.delete(dropped);
  const tmpfs =
    isolation.readOnly && isolation.tmpfs['/tmp'] === undefined
      ? { '/tmp': READ_ONLY_TMP_BYTES, ...isolation.tmpfs }
      : { ...isolation.tmpfs };
  return {
    capDrop: ['ALL'],
    capAdd: [...capabilities].sort(),
    noNewPrivileges: true,
    pidsLimit: isolation.pidsLimit,
    readOnlyRootfs: isolation.readOnly,
    tmpfs,
    ...(isolation.user ? { user: isolation.user } : {}),
  };
}

/** What the engine keeps of an instance's output: at most 3 files of 10 MB, the oldest lines going first. */
export const INSTANCE_LOG_LIMIT = { maxFileBytes: 10 * 1024 ** 2, maxFiles: 3 };

import type { GoneCause } from '../instances/container-watch.js';
import { describeExit, type InstanceContainers } from '../instances/instance-containers.js';
import type { Instance } from '../instances/instance.js';

/** How the runner learnt that an instance is gone: the engine, the gateway, or a start that failed. */
export type Departure =
  | GoneCause
  | { via: 'answer'; answer: string; message?: string | undefined }
  | { via: 'start-failed'; reason: string }
  /**
   * Its requests failed with no answer begun for at least a timeout (answer-watch.ts), and the app did not
   * answer its adapter's probe (`silent`), or the adapter did not answer (`unreachable`): it is stopped.
   */
  | { via: 'stuck'; quietMs: number; timeoutMs: number; answer: 'silent' | 'unreachable' };

const DETACHED_REASON = 'lost its network: the network was removed or the container disconnected from it';

/**
 * What is known of a death the moment it is noticed (the engine's full account comes a little later): the
 * exit code of a die event, or what the instance's adapter said when it refused a request.
 */
export function firstAccount(cause: Departure, oomKilled: boolean, memory: number): string {
  if (cause.via === 'start-failed') return `failed to start: ${cause.reason}`;
  if (cause.via === 'detached') return DETACHED_REASON;
  if (cause.via === 'stuck') {
    const probe = cause.answer === 'silent' ? 'nor a probe' : 'and its adapter did not answer';
    return `stopped answering: requests failed and it began no answer for ${seconds(cause.quietMs)} (timeout ${seconds(cause.timeoutMs)}), ${probe}; stopped`;
  }
  if (cause.via === 'event' && cause.action !== 'kill') {
    return describeExit({ exitCode: cause.exitCode, oomKilled, memory });
  }
  const said = cause.via === 'answer' ? (cause.message ?? '') : '';
  const code = /exited with code (\d+)/.exec(said)?.[1];
  const oomSaid = /OOM-killed: (memory limit exceeded[^;]*)/.exec(said)?.[1];
  if (oomSaid) return `was OOM-killed: ${oomSaid}`;
  if (code) return describeExit({ exitCode: Number(code), oomKilled, memory });
  return describeExit({ exitCode: undefined, oomKilled, memory });
}

export interface DeathRecord {
  reason: string;
  exitCode: number | null;
  oomKilled: boolean;
  memory: number;
  noticedBy: string;
  state: string;
  ranMs: number | null;
  logTail: string;
}

/**
 * The engine's account of a death (exit code, OOM kill, last log lines), once the container is down; then
 * the container goes. A container killed but still on its way down is stopped first, so the account is final.
 */
export async function takeAccount(
  containers: InstanceContainers,
  instance: Instance,
  cause: Departure,
  at: number,
  oomSeen: boolean,
): Promise<DeathRecord> {
  if (cause.via !== 'event' || cause.action === 'kill') await containers.halt(instance.id);
  const exit = await containers.exitOf(instance.id);
  const oomKilled = exit.oomKilled || oomSeen;
  const memory = exit.memory || instance.spec.memory;
  const reason =
    cause.via === 'start-failed' || cause.via === 'detached' || cause.via === 'stuck'
      ? firstAccount(cause, oomKilled, memory)
      : cause.via === 'answer' && cause.answer === 'INSTANCE_MISMATCH'
        ? 'was replaced at its address by another container'
        : describeExit({ ...exit, oomKilled, memory });
  await containers.remove(instance.id);
  return {
    reason,
    exitCode: exit.exitCode ?? null,
    oomKilled,
    memory,
    noticedBy: cause.via === 'event' ? cause.action : cause.via === 'answer' ? cause.answer : cause.via,
    state: instance.state,
    ranMs: instance.readyAt === undefined ? null : at - instance.readyAt,
    logTail: exit.logTail,
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

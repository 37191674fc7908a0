import { CONTROL_PATHS, HEADERS } from '../../../adapter/contract/contract.js';
import type { Clock } from './clock.js';
import type { Instance } from './instance.js';

/**
 * A ready app, and whether it can be reached straight at its port on the container's address (`direct`), or
 * only through the adapter (it listens on loopback only).
 */
export type Readiness = { ready: true; ms: number; direct: boolean } | { ready: false; reason: string };

export type Initialization = { ok: true; ms: number } | { ok: false; code: string; reason: string };

/** What the runner asks of an instance's adapter over its control paths; unit tests pass fakes. */
export interface AdapterClient {
  /** Polls until the app is ready, the container stops (`running` says no) or the time is up. */
  waitReady(instance: Instance, timeoutMs: number, running: () => Promise<boolean>): Promise<Readiness>;
  /** Runs the function's initializer (once per instance, however often it is asked) and says how it went. */
  initialize(instance: Instance, timeoutMs: number): Promise<Initialization>;
  /** Runs the app's pre-freeze hook, if it has one; a failure does not stop the freeze. */
  preFreeze(instance: Instance): Promise<void>;
  /**
   * What the instance's adapter says of itself when asked by name: `healthy`, or why not (its code and
   * reason: `INSTANCE_MISMATCH` when another container answers at its address, the app's exit), or
   * `UNREACHABLE` when nothing answers.
   */
  health(instance: Instance): Promise<{ healthy: true } | { healthy: false; code: string; reason: string }>;
  /** The container's working set as the adapter reads it from its cgroup, when it can tell. */
  memoryInUse(instance: Instance): Promise<number | undefined>;
  /** Whether the app begins an answer to a probe its adapter sends it, or the adapter does not answer. */
  appAnswers(instance: Instance, timeoutMs: number): Promise<'answers' | 'silent' | 'unreachable'>;
}

interface HealthBody {
  reason?: string | null;
  error?: { message?: string };
}

interface InitializeAnswer {
  durationMs?: number;
  error?: { code: string; message: string; [detail: string]: unknown };
}

/** Every call to an adapter names the instance it means: an address reused by another container is refused. */
export function identity(instance: Pick<Instance, 'name'>): Record<string, string> {
  return { [HEADERS.instance]: instance.name };
}

/** The adapter client over HTTP. */
export function httpAdapterClient(clock: Clock): AdapterClient {
  return {
    async waitReady(instance, timeoutMs, running) {
      const started = clock.now();
      let reason = 'no answer yet';
      while (clock.now() - started < timeoutMs) {
        const answer = await fetch(`${instance.address}${CONTROL_PATHS.ready}?wait=1000`, {
          headers: identity(instance),
          signal: AbortSignal.timeout(2000),
        }).then(
          async (response) => ({
            status: response.status,
            body: (await response.json()) as { reason?: string; direct?: boolean },
          }),
          (error: Error) => ({
            status: 0,
            body: { reason: error.message } as { reason?: string; direct?: boolean },
          }),
        );
        if (answer.status === 200) {
          return { ready: true, ms: clock.now() - started, direct: answer.body.direct === true };
        }
        // The adapter's own reason (the last probe of the app) says more than a failed call to the adapter.
        if (answer.status === 503 && answer.body.reason) reason = answer.body.reason;
        else if (answer.status === 0 && reason === 'no answer yet')
          reason = `the adapter did not answer: ${answer.body.reason}`;
        if (answer.status === 503 && /not ready within|exited|could not be started/.test(reason)) break;
        if (answer.status === 0 && !(await running())) {
          reason = 'the container exited';
          break;
        }
        // Until the adapter listens, connections are refused at once: try again soon.
        await new Promise((resolve) => setTimeout(resolve, answer.status === 0 ? 2 : 0));
      }
      return { ready: false, reason };
    },

    async initialize(instance, timeoutMs) {
      const started = clock.now();
      // The adapter bounds the initializer by its own timeout; this one only covers an adapter that hangs.
      const answer: { status: number; body: InitializeAnswer } = await fetch(
        `${instance.address}${CONTROL_PATHS.initialize}`,
        {
          method: 'POST',
          headers: identity(instance),
          signal: AbortSignal.timeout(timeoutMs + 10_000),
        },
      ).then(
        async (response) => ({ status: response.status, body: (await response.json()) as InitializeAnswer }),
        (error: Error) => ({
          status: 0,
          body: { error: { code: 'ADAPTER_UNREACHABLE', message: error.message } },
        }),
      );
      if (answer.status === 200) return { ok: true, ms: answer.body.durationMs ?? clock.now() - started };
      const error = answer.body.error ?? { code: `HTTP_${answer.status}`, message: 'no reason given' };
      const said = error['output'];
      const output = typeof said === 'string' && said ? `; its output:\n${said}` : '';
      return { ok: false, code: error.code, reason: `${error.message}${output}` };
    },

    async preFreeze(instance) {
      await fetch(`${instance.address}${CONTROL_PATHS.preFreeze}`, {
        headers: identity(instance),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
    },

    async health(instance) {
      const answer = await fetch(`${instance.address}${CONTROL_PATHS.health}`, {
        headers: identity(instance),
        signal: AbortSignal.timeout(1000),
      }).then(
        async (response) => ({
          status: response.status,
          code: response.headers.get(HEADERS.error),
          body: (await response.json().catch(() => ({}))) as HealthBody,
        }),
        (error: Error) => ({ status: 0, code: 'UNREACHABLE', body: { reason: error.message } as HealthBody }),
      );
      if (answer.status === 200) return { healthy: true };
      return {
        healthy: false,
        code: answer.code ?? (answer.status === 503 ? 'APP_EXITED' : `HTTP_${answer.status}`),
        reason: answer.body.error?.message ?? answer.body.reason ?? 'no reason given',
      };
    },

    async appAnswers(instance, timeoutMs) {
      const answer = await fetch(`${instance.address}${CONTROL_PATHS.live}`, {
        headers: identity(instance),
        signal: AbortSignal.timeout(timeoutMs + 2000),
      })
        .then((response) => response.json() as Promise<{ answers?: boolean }>)
        .catch(() => undefined);
      if (answer?.answers === undefined) return 'unreachable';
      return answer.answers ? 'answers' : 'silent';
    },

    async memoryInUse(instance) {
      const stats = await fetch(`${instance.address}${CONTROL_PATHS.stats}`, {
        headers: identity(instance),
        signal: AbortSignal.timeout(1000),
      })
        .then((response) => response.json() as Promise<{ containerMemoryBytes?: number | null }>)
        .catch(() => undefined);
      return stats?.containerMemoryBytes ?? undefined;
    },
  };
}

import type { Log } from '../control/reconciler.js';
import type { Clock } from '../instances/clock.js';
import type { GroupCommit } from './group-commit.js';
import type { Invocation, InvocationStore } from './invocation-store.js';
import { backoffMs } from './retry-policy.js';

/** Attempts at a destination before its record is dead-lettered (about 8 minutes of backoff). */
export const MAX_DELIVERY_ATTEMPTS = 10;

export interface DelivererDeps {
  store: InvocationStore;
  commit: GroupCommit;
  clock: Clock;
  log: Log;
  /** A function destination's event was stored: its dispatcher should look. */
  kick: (fn: string) => void;
  /** POSTs a record to a URL; resolves with the status, rejects when nothing answered. */
  post?: (url: string, body: string) => Promise<number>;
}

/** The JSON record a destination gets: the event, how it ended, its answer or its error, every attempt. */
export function destinationRecord(invocation: Invocation): Record<string, unknown> {
  const text = /json|text|xml|form/i.test(invocation.contentType);
  return {
    invocationId: invocation.id,
    function: invocation.function,
    state: invocation.state,
    acceptedAt: invocation.acceptedAt,
    finishedAt: invocation.updatedAt,
    request: {
      contentType: invocation.contentType,
      body: invocation.payload.toString(text ? 'utf8' : 'base64'),
      isBase64Encoded: !text,
    },
    ...(invocation.state === 'succeeded' ? { response: invocation.result } : { error: invocation.lastError }),
    attempts: invocation.attempts,
  };
}

/**
 * Delivers owed destination records: an http(s) URL gets the record POSTed, a `function:NAME` gets it as an
 * async event of its own (stored once: its id is derived from the event's). A failed delivery is tried
 * again with backoff; after MAX_DELIVERY_ATTEMPTS the record is dead-lettered, to be redelivered by hand.
 */
export class Deliverer {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly underway = new Set<string>();
  private stopped = false;
  private readonly post: (url: string, body: string) => Promise<number>;

  constructor(private readonly deps: DelivererDeps) {
    this.post = deps.post ?? postJson;
  }

  start(): void {
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Delivers what is due now and plans a wake for what is due later. */
  kick(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    for (const invocation of this.deps.store.deliveriesDue(now, 64)) {
      if (this.underway.has(invocation.id)) continue;
      this.underway.add(invocation.id);
      void this.deliver(invocation).finally(() => {
        this.underway.delete(invocation.id);
        this.kick();
      });
    }
    const next = this.deps.store.nextDeliveryDue();
    if (next === undefined || next <= now || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timerAt = Infinity;
      this.kick();
    }, next - now);
    this.timer.unref();
  }

  private async deliver(invocation: Invocation): Promise<void> {
    const target = invocation.destination!;
    const body = JSON.stringify(destinationRecord(invocation));
    let error: string | undefined;
    try {
      if (target.startsWith('function:')) {
        const fn = target.slice('function:'.length);
        await this.deps.commit.accept({
          id: `${invocation.id}.${invocation.state}`,
          function: fn,
          contentType: 'application/json',
          payload: Buffer.from(body),
        });
        this.deps.kick(fn);
      } else {
        const status = await this.post(target, body);
        if (status < 200 || status > 299) error = `${target} answered ${status}`;
      }
    } catch (failure) {
      error = `${target}: ${(failure as Error).message}`;
    }
    const now = this.deps.clock.now();
    if (!error) return this.deps.store.deliveryAttempted(invocation.id, { state: 'delivered' }, now);
    const attempts = invocation.deliveryAttempts + 1;
    if (attempts >= MAX_DELIVERY_ATTEMPTS) {
      this.deps.log('destination dead-lettered', { invocation: invocation.id, error });
      return this.deps.store.deliveryAttempted(invocation.id, { state: 'dead-letter', error }, now);
    }
    this.deps.store.deliveryAttempted(
      invocation.id,
      { state: 'owed', retryAt: now + backoffMs(attempts), error },
      now,
    );
  }
}

async function postJson(url: string, body: string): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status;
}

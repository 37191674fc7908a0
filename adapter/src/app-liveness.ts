import type { AnswerWatch } from '../forward/app-endpoint.js';

/**
 * Whether the app still answers. A call that times out while the app has sent the head of no answer, to any
 * request, since that call began means the app is stuck (stopped, deadlocked, a busy loop in a
 * single-threaded server): it does not come back on its own, and every request sent to it meanwhile waits
 * out its timeout. As Lambda resets an environment after a timeout, the instance then goes and another takes
 * its place. An app that is slow but alive keeps answering other requests, or begins the answer it is late
 * with, and is left alone.
 */
export class AppLiveness implements AnswerWatch {
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  private resolveStuck!: (reason: string) => void;
  /** Resolves once, with the reason, when the app is found stuck. */
  readonly stuck = new Promise<string>((resolve) => (this.resolveStuck = resolve));

  constructor(private readonly now: () => number = Date.now) {}

  answered(): void {
    this.lastAnswerAt = this.now();
  }

  timedOut(begunAt: number): void {
    if (this.lastAnswerAt >= begunAt) return;
    this.resolveStuck(
      `the app is stuck: a request timed out after ${this.now() - begunAt} ms, and the app began no answer to any request meanwhile`,
    );
  }
}

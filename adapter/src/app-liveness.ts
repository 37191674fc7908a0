import type { AnswerWatch } from '../forward/app-endpoint.js';
import type { AdapterConfig } from './config.js';
import { probeRequest } from './readiness.js';

/**
 * Whether the app begins an answer, whatever its status, to a GET of its readiness path (`/` when readiness is
 * a TCP connect, which a stuck app's kernel still accepts) within timeoutMs.
 */
export function appAnswers(
  config: Pick<AdapterConfig, 'appHost' | 'appPort' | 'readiness'>,
  timeoutMs: number,
): Promise<boolean> {
  const path = config.readiness.kind === 'http' ? config.readiness.path : '/';
  return new Promise((resolve) => {
    const probe = probeRequest(config.appHost, config.appPort, path, timeoutMs);
    probe.on('response', (answer) => {
      answer.resume();
      probe.destroy();
      resolve(true);
    });
    probe.on('timeout', () => probe.destroy());
    probe.on('close', () => resolve(false));
    probe.on('error', () => resolve(false));
    probe.end();
  });
}

/**
 * Whether the app still answers. A call that times out while the app has begun no answer, to any request,
 * since that call began makes it a suspect; a probe then asks it directly. No answer to the probe either, and
 * the app is stuck (stopped, deadlocked, an endless loop in a single-threaded server): it does not come back
 * on its own, and every request sent to it meanwhile waits out its timeout. As Lambda resets an environment
 * after a timeout, the instance then goes and another takes its place. An app that is slow but alive (a long
 * request, a client that uploads slowly) answers the probe and is left alone.
 */
export class AppLiveness implements AnswerWatch {
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  private probing = false;
  private resolveStuck!: (reason: string) => void;
  /** Resolves once, with the reason, when the app is found stuck. */
  readonly stuck = new Promise<string>((resolve) => (this.resolveStuck = resolve));

  constructor(
    private readonly probe: () => Promise<boolean>,
    private readonly now: () => number = Date.now,
    /** Told when a suspect answered its probe (what an operator would want in the log). */
    private readonly onAlive: (timedOutAfterMs: number) => void = () => {},
  ) {}

  answered(): void {
    this.lastAnswerAt = this.now();
  }

  timedOut(begunAt: number): void {
    if (this.lastAnswerAt >= begunAt || this.probing) return;
    this.probing = true;
    const timedOutAfter = this.now() - begunAt;
    void this.probe().then((alive) => {
      this.probing = false;
      if (alive) {
        this.answered();
        return this.onAlive(timedOutAfter);
      }
      this.resolveStuck(
        `the app is stuck: a request timed out after ${timedOutAfter} ms with no answer begun to any request meanwhile, and it did not answer a probe either`,
      );
    });
  }
}

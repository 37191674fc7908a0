import { Transform, type TransformCallback } from 'node:stream';

export interface DroppedOutput {
  lines: number;
  bytes: number;
}

/**
 * The app's output, at most `bytesPerSecond` on average with bursts of `burstSeconds` of it: a token bucket.
 * What does not fit is dropped at a line boundary and counted, so a log flood can neither fill the engine's
 * disk nor keep the engine busy writing it. `takeDropped` hands over (and resets) the count.
 */
export class LogRateLimit extends Transform {
  private tokens: number;
  private refilledAt: number;
  private dropped: DroppedOutput = { lines: 0, bytes: 0 };

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstSeconds = 4,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.tokens = bytesPerSecond * burstSeconds;
    this.refilledAt = now();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.refill();
    if (chunk.length <= this.tokens) {
      this.tokens -= chunk.length;
      return done(null, chunk);
    }
    const fits = this.tokens >= 1 ? chunk.lastIndexOf(0x0a, Math.floor(this.tokens) - 1) + 1 : 0;
    this.tokens -= fits;
    const rest = chunk.subarray(fits);
    this.dropped.bytes += rest.length;
    this.dropped.lines += countLines(rest);
    done(null, fits > 0 ? chunk.subarray(0, fits) : undefined);
  }

  takeDropped(): DroppedOutput {
    const dropped = this.dropped;
    this.dropped = { lines: 0, bytes: 0 };
    return dropped;
  }

  private refill(): void {
    const now = this.now();
    const capacity = this.bytesPerSecond * this.burstSeconds;
    this.tokens = Math.min(capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.bytesPerSecond);
    this.refilledAt = now;
  }
}

function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lines += 1;
  return lines;
}

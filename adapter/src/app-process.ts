import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { LogRateLimit, type DroppedOutput } from './log-rate-limit.js';
import { constants } from 'node:os';

export interface AppProcess {
  pid: number | undefined;
  /** Set once the app has exited: a description such as "the app exited with code 3". */
  exitReason(): string | undefined;
  /** Resolves with the app's exit code (128+signal when killed by a signal). */
  exited: Promise<number>;
  signal(name: NodeJS.Signals): void;
}

/** How much of the app's output is kept, and where a count of what was dropped goes. */
export interface OutputLimit {
  bytesPerSecond: number;
  onDropped: (stream: 'stdout' | 'stderr', dropped: DroppedOutput) => void;
}

/**
 * Starts the image's own ENTRYPOINT+CMD with the container's environment. Its output goes to the adapter's,
 * through a rate limit when one is given (each of stdout and stderr); straight through otherwise.
 * (node:child_process rather than execa: execa's module graph alone costs about 13 MB resident in every
 * instance, and reserved instances are small.)
 */
export function startAppProcess(
  command: string[],
  env: Record<string, string | undefined>,
  limit?: OutputLimit,
): AppProcess {
  const [file, ...args] = command as [string, ...string[]];
  const limited = limit !== undefined && limit.bytesPerSecond > 0;
  const child = spawn(file, args, { env, stdio: limited ? ['inherit', 'pipe', 'pipe'] : 'inherit' });
  if (limited) {
    const reporters = [
      passLimited(child.stdout!, process.stdout, 'stdout', limit),
      passLimited(child.stderr!, process.stderr, 'stderr', limit),
    ];
    child.once('close', () => reporters.forEach((report) => report()));
  }
  let reason: string | undefined;
  const exited = new Promise<number>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reason = `the app could not be started (${command.join(' ')}): ${error.code ?? error.message}`;
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      if (signal) {
        reason = `the app was killed by ${signal}`;
        resolve(128 + (constants.signals[signal] ?? 0));
      } else {
        reason = `the app exited with code ${code ?? 0}`;
        resolve(code ?? 0);
      }
    });
  });
  return {
    pid: child.pid,
    exitReason: () => reason,
    exited,
    signal: (name) => {
      child.kill(name);
    },
  };
}

/** Pipes one of the app's streams through a rate limit; every second, a count of what it dropped is reported. */
export function passLimited(
  from: Readable,
  to: Writable,
  stream: 'stdout' | 'stderr',
  limit: OutputLimit,
): () => void {
  const limiter = new LogRateLimit(limit.bytesPerSecond);
  from.pipe(limiter).pipe(to, { end: false });
  const report = (): void => {
    const dropped = limiter.takeDropped();
    if (dropped.bytes > 0) limit.onDropped(stream, dropped);
  };
  const timer = setInterval(report, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    report();
  };
}

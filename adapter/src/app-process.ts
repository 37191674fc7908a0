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
    const finish = passAppOutput(child.stdout!, child.stderr!, limit);
    child.once('close', finish);
  }
  let reason: string | undefined;
  const exited = new Promise<AppEnd>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(appNotStarted(command, error.code ?? error.message)),
    );
    child.once('exit', (code, signal) => resolve(signal ? appKilled(signal) : appExited(code ?? 0)));
  }).then((end) => {
    reason = end.reason;
    return end.code;
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

/** How the app ended: the code the adapter exits with (128+signal when killed), and a sentence for the log. */
export interface AppEnd {
  code: number;
  reason: string;
}

export function appExited(code: number): AppEnd {
  return { code, reason: `the app exited with code ${code}` };
}

export function appKilled(signal: NodeJS.Signals | number): AppEnd {
  const number = typeof signal === 'number' ? signal : (constants.signals[signal] ?? 0);
  const name =
    typeof signal === 'string'
      ? signal
      : Object.entries(constants.signals).find(([, value]) => value === signal)?.[0];
  return { code: 128 + number, reason: `the app was killed by ${name ?? `signal ${number}`}` };
}

export function appNotStarted(command: string[], why: string): AppEnd {
  return { code: 127, reason: `the app could not be started (${command.join(' ')}): ${why}` };
}

/**
 * The app's stdout and stderr on to the adapter's, each through the rate limit when it has one; returns what
 * to call once the app's streams have closed (a last count of what was dropped).
 */
export function passAppOutput(stdout: Readable, stderr: Readable, limit?: OutputLimit): () => void {
  if (limit === undefined || limit.bytesPerSecond <= 0) {
    stdout.pipe(process.stdout, { end: false });
    stderr.pipe(process.stderr, { end: false });
    return () => {};
  }
  const reporters = [
    passLimited(stdout, process.stdout, 'stdout', limit),
    passLimited(stderr, process.stderr, 'stderr', limit),
  ];
  return () => reporters.forEach((report) => report());
}

/** Pipes one of the app's streams through a rate limit; every second, a count of what it dropped is reported. */
function passLimited(
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

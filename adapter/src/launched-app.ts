import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { passLimited, type AppProcess, type OutputLimit } from './app-process.js';

/** Set by the native launcher (adapter/launcher/launch.c) when it has started the app itself. */
export const LAUNCHED_APP_PID = 'PILOTLIGHT_LAUNCHED_APP_PID';
/** The launcher's pipes: the app's stdout and stderr, and one line saying how the app ended. */
const APP_STDOUT_FD = 3;
const APP_STDERR_FD = 4;
const APP_END_FD = 5;

/**
 * The app the launcher started before this process: its output arrives on fds 3 and 4, and its end as one
 * line on fd 5 ("exit CODE", "signal NUMBER" or "error ERRNO-NAME"). Undefined when there is no such app.
 */
export function launchedApp(
  env: Record<string, string | undefined>,
  command: string[],
  limit?: OutputLimit,
): AppProcess | undefined {
  const pid = Number(env[LAUNCHED_APP_PID]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const stdout = pipeFrom(APP_STDOUT_FD);
  const stderr = pipeFrom(APP_STDERR_FD);
  if (limit !== undefined && limit.bytesPerSecond > 0) {
    const reporters = [
      passLimited(stdout, process.stdout, 'stdout', limit),
      passLimited(stderr, process.stderr, 'stderr', limit),
    ];
    stderr.once('close', () => reporters.forEach((report) => report()));
  } else {
    stdout.pipe(process.stdout, { end: false });
    stderr.pipe(process.stderr, { end: false });
  }
  let reason: string | undefined;
  const exited = readEnd(pipeFrom(APP_END_FD)).then((line) => {
    const [kind, value = ''] = line.split(' ');
    if (kind === 'exit') {
      reason = `the app exited with code ${value}`;
      return Number(value);
    }
    if (kind === 'signal') {
      const name = Object.entries(constants.signals).find(([, number]) => number === Number(value))?.[0];
      reason = `the app was killed by ${name ?? `signal ${value}`}`;
      return 128 + Number(value);
    }
    if (kind === 'error') {
      reason = `the app could not be started (${command.join(' ')}): ${value}`;
      return 127;
    }
    reason = 'the app ended, and its launcher did not say how';
    return 70;
  });
  return {
    pid,
    exitReason: () => reason,
    exited,
    signal: (name) => {
      if (reason !== undefined) return;
      try {
        process.kill(pid, name);
      } catch {
        // Gone already: its end is on its way through the launcher.
      }
    },
  };
}

function pipeFrom(fd: number): Readable {
  return new Socket({ fd, readable: true, writable: false });
}

function readEnd(pipe: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => (text += chunk));
    pipe.once('close', () => resolve(text.trim()));
    pipe.once('error', () => resolve(text.trim()));
  });
}

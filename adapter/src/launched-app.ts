import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import {
  appExited,
  appKilled,
  appNotStarted,
  passAppOutput,
  type AppEnd,
  type AppProcess,
  type OutputLimit,
} from './app-process.js';

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
  const stderr = pipeFrom(APP_STDERR_FD);
  stderr.once('close', passAppOutput(pipeFrom(APP_STDOUT_FD), stderr, limit));
  let reason: string | undefined;
  const exited = readEnd(pipeFrom(APP_END_FD)).then((line) => {
    const end = endOf(line, command);
    reason = end.reason;
    return end.code;
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

/** The launcher's line: "exit CODE", "signal NUMBER" or "error ERRNO-NAME". */
function endOf(line: string, command: string[]): AppEnd {
  const [kind, value = ''] = line.split(' ');
  if (kind === 'exit') return appExited(Number(value));
  if (kind === 'signal') return appKilled(Number(value));
  if (kind === 'error') return appNotStarted(command, value);
  return { code: 70, reason: 'the app ended, and its launcher did not say how' };
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

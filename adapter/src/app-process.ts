import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface AppProcess {
  pid: number | undefined;
  /** Set once the app has exited: a description such as "the app exited with code 3". */
  exitReason(): string | undefined;
  /** Resolves with the app's exit code (128+signal when killed by a signal). */
  exited: Promise<number>;
  signal(name: NodeJS.Signals): void;
}

/**
 * Starts the image's own ENTRYPOINT+CMD with the container's environment, its output passed straight through.
 * (node:child_process rather than execa: execa's module graph alone costs about 13 MB resident in every
 * instance, and reserved instances are small.)
 */
export function startAppProcess(command: string[], env: Record<string, string | undefined>): AppProcess {
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { env, stdio: 'inherit' });
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

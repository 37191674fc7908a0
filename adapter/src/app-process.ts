import { constants } from 'node:os';
import { execa, type ResultPromise } from 'execa';

export interface AppProcess {
  pid: number | undefined;
  /** Set once the app has exited: a description such as "the app exited with code 3". */
  exitReason(): string | undefined;
  /** Resolves with the app's exit code (128+signal when killed by a signal). */
  exited: Promise<number>;
  signal(name: NodeJS.Signals): void;
}

/** Starts the image's own ENTRYPOINT+CMD with the container's environment, its output passed straight through. */
export function startAppProcess(command: string[], env: Record<string, string | undefined>): AppProcess {
  const [file, ...args] = command as [string, ...string[]];
  const child: ResultPromise = execa(file, args, {
    env,
    extendEnv: false,
    stdio: 'inherit',
    reject: false,
    cleanup: false,
    forceKillAfterDelay: false,
  });
  let reason: string | undefined;
  const exited = child.then((result) => {
    if (result.failed && result.exitCode === undefined && !result.signal) {
      reason = `the app could not be started (${command.join(' ')}): ${result.shortMessage}`;
      return 127;
    }
    if (result.signal) {
      reason = `the app was killed by ${result.signal}`;
      return 128 + (constants.signals[result.signal] ?? 0);
    }
    reason = `the app exited with code ${result.exitCode ?? 0}`;
    return result.exitCode ?? 0;
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

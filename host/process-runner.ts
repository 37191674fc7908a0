import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { execa } from 'execa';

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunResult {
  exitCode: number;
  output: string;
}

/** The small seam through which setup code runs host commands; tests pass a fake. */
export interface ProcessRunner {
  run(command: string, args: string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-lived daemon detached from this process, its output appended to logFile. */
  spawnDetached(command: string, args: string[], logFile: string): void;
  which(command: string): Promise<string | undefined>;
}

export function execaProcessRunner(): ProcessRunner {
  return {
    async run(command, args, options = {}) {
      const result = await execa(command, args, {
        reject: false,
        all: true,
        env: options.env,
        cwd: options.cwd,
        stdin: 'ignore',
      });
      return { exitCode: result.exitCode ?? 1, output: String(result.all ?? '') };
    },
    spawnDetached(command, args, logFile) {
      // Plain spawn with file descriptors: the daemon must not share a pipe with this short-lived process.
      const log = openSync(logFile, 'a');
      try {
        spawn(command, args, { detached: true, stdio: ['ignore', log, log] }).unref();
      } finally {
        closeSync(log);
      }
    },
    async which(command) {
      const result = await execa('sh', ['-c', `command -v ${command}`], { reject: false });
      return result.exitCode === 0 ? String(result.stdout).trim() : undefined;
    },
  };
}

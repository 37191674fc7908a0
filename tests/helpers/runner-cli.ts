import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../../common/project-root.js';

export function runnerBin(): string {
  const bin = join(projectRoot(), 'dist', 'runner.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first`);
  return bin;
}

/** Runs `runner ARGS` to completion without throwing on a non-zero exit. */
export function runRunner(args: string[], env: Record<string, string> = {}, input?: string) {
  return execa(process.execPath, [runnerBin(), ...args], {
    reject: false,
    env,
    all: true,
    timeout: 120_000,
    ...(input === undefined ? {} : { input }),
  });
}

/**
 * Makes the process a child subreaper, then runs the command in it (prctl is kept across execve): orphans
 * below it become its children, as they do for a container's pid 1, and Node never reaps them.
 */
const SUBREAPER = [
  'python3',
  '-c',
  'import ctypes,os,sys; assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0; os.execv(sys.argv[1], sys.argv[1:])',
];

/** Starts a long-running `runner ARGS` (such as `up`), optionally as a subreaper that never reaps. */
export function spawnRunner(args: string[], env: Record<string, string> = {}, asSubreaper = false) {
  const command = [process.execPath, runnerBin(), ...args];
  const [file, ...rest] = asSubreaper ? [...SUBREAPER, ...command] : command;
  return execa(file!, rest, { reject: false, env, all: true });
}

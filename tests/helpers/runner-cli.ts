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

/** Starts a long-running `runner ARGS` (such as `up`). */
export function spawnRunner(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [runnerBin(), ...args], { reject: false, env, all: true });
}

import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code, or undefined when the command could not start or was killed. */
  exitCode: number | undefined;
  timedOut: boolean;
  /** stdout and stderr interleaved, cut to maxOutput characters. */
  output: string;
  error?: string;
}

/** Runs a short command (a hook) to completion with a timeout, collecting its output. */
export function runCommand(
  command: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number,
  maxOutput = 64 * 1024,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [file, ...args] = command as [string, ...string[]];
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const collect = (chunk: Buffer): void => {
      if (output.length < maxOutput) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ exitCode: undefined, timedOut, output, error: error.code ?? error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? undefined, timedOut, output: output.slice(0, maxOutput).trim() });
    });
  });
}

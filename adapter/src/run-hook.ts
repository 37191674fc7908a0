import { AdapterError } from '../forward/adapter-error.js';
import type { AppEndpoint } from '../forward/app-endpoint.js';
import { callApp } from './call-app.js';
import type { HookTarget } from './config.js';
import { runCommand } from './run-command.js';

export interface HookResult {
  durationMs: number;
  /** The app's answer body or the command's combined output, cut to 64 KiB. */
  output: string;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs an initializer or lifecycle hook: a request to an app path (2xx is success) or a command in the
 * container (exit 0 is success). Failures reject with an AdapterError that carries the output.
 */
export async function runHook(
  name: string,
  target: NonNullable<HookTarget>,
  app: AppEndpoint,
  env: Record<string, string | undefined>,
  method: 'GET' | 'POST',
  timeoutMs: number,
): Promise<HookResult> {
  const started = Date.now();
  if (target.kind === 'path') {
    const answer = await callApp(app, {
      method,
      path: target.path,
      headers: {},
      timeoutMs,
      what: `the ${name} hook (${method} ${target.path})`,
    }).catch((error: AdapterError) => {
      throw new AdapterError(hookCode(name, error.code), error.status, error.message);
    });
    const output = cut(answer.body.toString('utf8'));
    if (answer.status < 200 || answer.status > 299) {
      throw new AdapterError(
        hookCode(name, 'FAILED'),
        500,
        `the ${name} hook ${method} ${target.path} answered ${answer.status}`,
        {},
        { output },
      );
    }
    return { durationMs: Date.now() - started, output };
  }

  const result = await runCommand(target.command, env, timeoutMs, MAX_OUTPUT);
  const output = cut(result.output);
  if (result.timedOut) {
    throw new AdapterError(
      hookCode(name, 'TIMEOUT'),
      504,
      `the ${name} command did not finish within ${timeoutMs} ms`,
      {},
      { output },
    );
  }
  if (result.exitCode !== 0) {
    const how = result.error ? `could not start (${result.error})` : `exited with code ${result.exitCode}`;
    throw new AdapterError(
      hookCode(name, 'FAILED'),
      500,
      `the ${name} command ${target.command.join(' ')} ${how}`,
      {},
      { output },
    );
  }
  return { durationMs: Date.now() - started, output };
}

function hookCode(name: string, suffix: string): string {
  return `${name.toUpperCase().replace(/-/g, '_')}_${suffix}`;
}

function cut(text: string): string {
  return text.length > MAX_OUTPUT ? `${text.slice(0, MAX_OUTPUT)}…` : text;
}

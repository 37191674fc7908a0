import { HEADERS, CONTROL_PATHS } from '../../../adapter/contract/contract.js';
import { isPilotlightError } from '../../../common/pilotlight-error.js';
import type { FunctionRuntime } from '../control/function-runtime.js';
import { identity } from '../instances/adapter-client.js';
import type { Instance } from '../instances/instance.js';
import type { Invocation } from './invocation-store.js';
import type { AttemptOutcome } from './retry-policy.js';

export interface AttemptResult {
  outcome: AttemptOutcome;
  instance: string | null;
  status: number | string;
  error?: string;
  /** The app's answer, cut to 64 KiB, when the attempt succeeded. */
  result?: string;
}

/** Adapter answers that say the event itself is wrong: trying it again cannot help. */
const REJECTED = new Set(['MALFORMED_EVENT', 'BODY_TOO_LARGE']);
const RESULT_LIMIT = 64 * 1024;

/**
 * One attempt of an async event: an instance from the function's pool (the same instances and autoscaler
 * as synchronous traffic; a reserved or frozen one is woken), then the adapter's /_/invoke.
 */
export async function invokeInstance(fn: FunctionRuntime, invocation: Invocation): Promise<AttemptResult> {
  let instance: Instance;
  try {
    instance = await fn.pool.acquire();
  } catch (error) {
    const code = isPilotlightError(error) ? error.code : 'NO_INSTANCE';
    return { outcome: 'system-error', instance: null, status: code, error: (error as Error).message };
  }
  try {
    const answer = await callInvoke(fn, instance, invocation.payload, invocation.contentType, invocation.id);
    const { status, adapterError, functionError } = answer;
    const body = answer.body.toString('utf8');
    if (functionError) {
      return {
        outcome: 'function-error',
        instance: instance.name,
        status: Number(functionError),
        error: body.slice(0, 2048),
      };
    }
    // Without the adapter's own error mark, the answer is the app's: a status outside the function's error
    // ranges (a 404 from the events path, say) is the function's result, not a failure to run it.
    if (!adapterError) {
      return {
        outcome: 'succeeded',
        instance: instance.name,
        status,
        result: body.slice(0, RESULT_LIMIT),
      };
    }
    const message = errorMessage(body) ?? `status ${status}`;
    if (REJECTED.has(adapterError)) {
      return { outcome: 'rejected', instance: instance.name, status: adapterError, error: message };
    }
    // The function ran out of time: its own failure, as Lambda counts it.
    if (adapterError === 'TIMEOUT')
      return { outcome: 'function-error', instance: instance.name, status: adapterError, error: message };
    return {
      outcome: 'system-error',
      instance: instance.name,
      status: adapterError,
      error: message,
    };
  } catch (error) {
    return {
      outcome: 'system-error',
      instance: instance.name,
      status: 'UNREACHABLE',
      error: (error as Error).message,
    };
  } finally {
    fn.pool.release(instance);
  }
}

export interface InvokeAnswer {
  status: number;
  body: Buffer;
  /** The adapter's own error code, when it answered instead of the app. */
  adapterError: string | null;
  /** The app's status, when it counts as a function error. */
  functionError: string | null;
}

/** One call of an instance's /_/invoke, named to it, bounded by the function's timeout. */
export async function callInvoke(
  fn: FunctionRuntime,
  instance: Instance,
  payload: Buffer,
  contentType: string,
  requestId: string,
): Promise<InvokeAnswer> {
  const response = await fetch(`${instance.address}${CONTROL_PATHS.invoke}`, {
    method: 'POST',
    headers: { ...identity(instance), 'content-type': contentType, [HEADERS.requestId]: requestId },
    body: payload,
    signal: AbortSignal.timeout(fn.spec.timeoutMs + 5_000),
  });
  return {
    status: response.status,
    body: Buffer.from(await response.arrayBuffer()),
    adapterError: response.headers.get(HEADERS.error),
    functionError: response.headers.get(HEADERS.functionError),
  };
}

function errorMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message;
  } catch {
    return undefined;
  }
}

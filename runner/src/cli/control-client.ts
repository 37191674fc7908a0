import { PilotlightError } from '../../../common/pilotlight-error.js';
import { readRunnerInfo } from '../control/runner-files.js';

/** Calls the control API of the runner that owns a data directory. */
export class ControlClient {
  private readonly base: string;
  private readonly token: string;
  readonly gateway: string;

  constructor(dataDir: string) {
    const info = readRunnerInfo(dataDir);
    this.base = info.control;
    this.token = info.token;
    this.gateway = info.gateway;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    raw?: { data: Buffer; contentType: string; headers?: Record<string, string> },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(raw
            ? { 'content-type': raw.contentType, ...raw.headers }
            : body !== undefined
              ? { 'content-type': 'application/json' }
              : {}),
        },
        body: raw ? raw.data : body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new PilotlightError(
        'RUNNER_NOT_RUNNING',
        `the runner at ${this.base} does not answer: is \`runner up\` still running?`,
        503,
      );
    }
    return response;
  }

  /** A JSON call whose error answers become the runner's own error, printed as one line. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.call(method, path, body);
    const value = (await response.json()) as T & { error?: { code: string; message: string } };
    if (!response.ok && value.error)
      throw new PilotlightError(value.error.code, value.error.message, response.status);
    return value;
  }

  /** Reads an NDJSON answer line by line. */
  async *lines(response: Response): AsyncGenerator<Record<string, unknown>> {
    if (!response.ok) {
      const value = (await response.json()) as { error: { code: string; message: string } };
      throw new PilotlightError(value.error.code, value.error.message, response.status);
    }
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line) as Record<string, unknown>;
      }
    }
  }
}

import { PilotlightError } from '../../../common/pilotlight-error.js';
import { readRunnerInfo } from '../control/runner-files.js';
import { fetchTrusting, type FetchInit } from './fetch-trusting.js';

/** Node's codes for a failed TLS handshake or certificate check (ERR_TLS_…, …_CERT…, ERR_SSL_…). */
const TLS_FAILURE = /CERT|SSL|TLS/;

/**
 * Calls the control API of the runner that owns a data directory. An https control API is trusted by the
 * certificate the runner recorded in runner.json: the one it serves.
 */
export class ControlClient {
  private readonly base: string;
  private readonly token: string;
  private readonly send: (url: string, init: FetchInit) => Promise<Response>;
  readonly gateway: string;

  constructor(dataDir: string) {
    const info = readRunnerInfo(dataDir);
    this.base = info.control;
    this.token = info.token;
    this.gateway = info.gateway;
    this.send = info.controlCert ? fetchTrusting(info.controlCert) : fetch;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    raw?: { data: Buffer; contentType: string; headers?: Record<string, string> },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await this.send(`${this.base}${path}`, {
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
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && TLS_FAILURE.test(code)) {
        throw new PilotlightError(
          'CONTROL_TLS_FAILED',
          `the control API at ${this.base} failed the TLS check (${(error as Error).message}): the CLI trusts only the certificate \`runner up\` was given, for the host in that URL`,
          502,
        );
      }
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

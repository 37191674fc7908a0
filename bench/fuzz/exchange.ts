import { connect } from 'node:net';
import { readAnswers, type ParsedAnswers } from './answers.js';

export interface Address {
  host: string;
  port: number;
}

export interface Exchange {
  data: Buffer;
  /** How the connection ended: the server closed it, we reset it after a whole answer, or it stalled. */
  end: 'closed' | 'reset-by-us' | 'stalled';
  /** A socket error (ECONNRESET, EPIPE…) seen on the way. */
  error?: string;
  /** False when the connection was never made (then `error` says why). */
  connected: boolean;
  answers: ParsedAnswers;
}

export interface ExchangeTimings {
  /** With no whole answer, how long after the last byte either way the client half-closes. */
  idleMs: number;
  /** The same for a well-framed request, which the server should answer without the client closing. */
  completeIdleMs: number;
  /** From the connect: past this the connection has stalled (no whole answer, and no close after our FIN). */
  stallMs: number;
}

export const DEFAULT_TIMINGS: ExchangeTimings = { idleMs: 150, completeIdleMs: 3000, stallMs: 10_000 };

/**
 * Sends BYTES on a new connection and reads until the server closes it. A whole answer followed by a short
 * quiet spell ends it early with a reset (a kept-alive connection would otherwise stay open; a reset leaves no
 * TIME_WAIT behind, so 100,000 connections do not run out of ports). A request the server is still waiting
 * on is half-closed after an idle spell, so that the server sees its end.
 */
export function exchange(
  to: Address,
  bytes: Buffer,
  options: { complete: boolean; head: boolean; timings?: ExchangeTimings },
): Promise<Exchange> {
  const timings = options.timings ?? DEFAULT_TIMINGS;
  return new Promise((resolve) => {
    const socket = connect({ host: to.host, port: to.port });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let idle: NodeJS.Timeout | undefined;
    let settled = false;
    let connected = false;
    const finish = (end: Exchange['end']) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(stall);
      const data = Buffer.concat(chunks);
      const answers = readAnswers(data, options.head);
      resolve({ data, end, connected, ...(error ? { error } : {}), answers });
    };
    const stall = setTimeout(() => {
      socket.destroy();
      finish('stalled');
    }, timings.stallMs);
    const rearm = () => {
      clearTimeout(idle);
      const answered = wholeAnswer(Buffer.concat(chunks), options.head);
      const wait = answered ? QUIET_MS : options.complete ? timings.completeIdleMs : timings.idleMs;
      idle = setTimeout(() => {
        if (!answered) return void socket.end();
        socket.resetAndDestroy();
        finish('reset-by-us');
      }, wait);
    };
    socket.on('connect', () => {
      connected = true;
      socket.write(bytes, () => !settled && rearm());
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      rearm();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('close', () => finish('closed'));
  });
}

/** After a whole answer, how long to wait for more (a pipelined second answer) before resetting. */
const QUIET_MS = 15;

function wholeAnswer(data: Buffer, head: boolean): boolean {
  if (data.length === 0) return false;
  const answers = readAnswers(data, head);
  const last = answers.statuses.at(-1);
  // An interim answer (100 Continue) is followed by the final one.
  return last !== undefined && (last >= 200 || last === 101) && !answers.truncated && !answers.problem;
}

import { Agent } from 'node:http';

export interface AppEndpoint {
  host: string;
  port: number;
  /** Keep-alive pool to the app: the hop must not pay a TCP handshake per request. */
  agent: Agent;
  /** A Unix socket to connect to instead of host:port. */
  socketPath?: string;
  /** Told of every answer the app begins and every call to it that times out. */
  watch?: AnswerWatch;
}

/** What judges whether the app still answers (the adapter's `AppLiveness`). */
export interface AnswerWatch {
  /** The app sent the head of an answer. */
  answered(): void;
  /** A call to the app, begun at this time (ms), timed out. */
  timedOut(begunAt: number): void;
}

export function createAppEndpoint(host: string, port: number): AppEndpoint {
  // Idle connections are dropped after a second, before apps drop them (gunicorn after 2 s, Node after 5 s):
  // reusing a connection the app is closing is the classic cause of spurious 502s behind a proxy.
  return {
    host,
    port,
    agent: new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, timeout: 1000 }),
  };
}

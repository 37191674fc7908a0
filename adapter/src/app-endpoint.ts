import { Agent } from 'node:http';

export interface AppEndpoint {
  host: string;
  port: number;
  /** Keep-alive pool to the app: the hop must not pay a TCP handshake per request. */
  agent: Agent;
}

export function createAppEndpoint(host: string, port: number): AppEndpoint {
  return { host, port, agent: new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 }) };
}

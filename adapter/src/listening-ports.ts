import { readFileSync } from 'node:fs';

/**
 * TCP ports something in this container listens on, read from /proc/net/tcp and tcp6 (state 0A). Used to say
 * "the app listens on 8080, not 3000" instead of just "connection refused".
 */
/** 127.0.0.11 as /proc/net/tcp writes it: Docker's DNS resolver, in every container on a user-defined network. */
const EMBEDDED_DNS = '0B00007F';

export function listeningPorts(exclude: number[] = []): number[] {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== '0A') continue;
      const [address, hexPort] = fields[1]?.split(':') ?? [];
      if (address === EMBEDDED_DNS) continue;
      const port = Number.parseInt(hexPort ?? '', 16);
      if (Number.isInteger(port) && !exclude.includes(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

import { readFileSync } from 'node:fs';

/**
 * TCP ports something in this container listens on, read from /proc/net/tcp and tcp6 (state 0A). Used to say
 * "the app listens on 8080, not 3000" instead of just "connection refused".
 */
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
      const port = Number.parseInt(fields[1]?.split(':').pop() ?? '', 16);
      if (Number.isInteger(port) && !exclude.includes(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

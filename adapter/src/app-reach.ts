import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';

/** The container's own addresses other than loopback: where the edge would reach the app. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address && !address.internal && address.family === 'IPv4')
    .map((address) => address!.address);
}

function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Whether the app can be reached at its port on the container's address (it listens on all interfaces), so
 * the runner's edge may send requests straight to it; false when it listens on loopback only.
 */
export async function reachableDirectly(port: number, timeoutMs = 500): Promise<boolean> {
  const addresses = ownAddresses();
  if (addresses.length === 0) return false;
  const answers = await Promise.all(addresses.map((host) => accepts(host, port, timeoutMs)));
  return answers.every(Boolean);
}

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { EngineUnavailableError } from '../errors.js';
import { createDocker, describeEndpoint, dockerEndpointFromEnv } from '../docker/docker-endpoint.js';
import { createGatewayServer } from '../gateway/gateway-server.js';

export interface UpOptions {
  env: Record<string, string | undefined>;
  dataDir: string;
  host: string;
  gatewayPort: number;
  log: (line: string) => void;
  /** Resolves when the runner should stop (SIGINT/SIGTERM in the CLI). */
  stopSignal: Promise<void>;
}

/** Runs the runner in the foreground until stopSignal resolves. */
export async function runUp(options: UpOptions): Promise<void> {
  const endpoint = dockerEndpointFromEnv(options.env);
  const docker = createDocker(endpoint);
  await docker.ping().catch(() => {
    throw new EngineUnavailableError(
      `no Docker engine answers at ${describeEndpoint(endpoint)}: run \`runner setup\` (or start Docker) first`,
    );
  });

  const gateway = createGatewayServer(() => false);
  gateway.listen(options.gatewayPort, options.host);
  await once(gateway, 'listening');
  const { port } = gateway.address() as AddressInfo;
  options.log(`runner up: gateway http://${options.host}:${port}/fn/NAME/ (data: ${options.dataDir})`);

  await options.stopSignal;
  options.log('runner stopping');
  gateway.close();
  gateway.closeAllConnections();
  await once(gateway, 'close');
}

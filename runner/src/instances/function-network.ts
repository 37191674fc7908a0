import type Docker from 'dockerode';
import { PilotlightError } from '../../../common/pilotlight-error.js';
import { LABEL_FUNCTION, LABEL_RUNNER, labelFilter, managedLabels } from '../../../engine/labels.js';

export class NetworkPoolExhaustedError extends PilotlightError {
  constructor(network: string, detail: string) {
    super(
      'NETWORK_POOL_EXHAUSTED',
      `the engine has no address range left for network ${network} (${detail}): remove unused networks ` +
        '(`docker network prune`) or give dockerd smaller default-address-pools, e.g. ' +
        '{"default-address-pools":[{"base":"172.17.0.0/12","size":24}]} in /etc/docker/daemon.json',
      503,
    );
  }
}

/**
 * One bridge network per function: the runner (on the host) reaches every instance, but an instance cannot
 * reach another function's instances, nor another instance of its own function (no inter-container traffic),
 * and an address freed by one function can only ever be reused on that same function's network.
 */
export class FunctionNetworks {
  private readonly ensured = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    private readonly runnerId: string,
  ) {}

  nameFor(fn: string): string {
    return `pilotlight-${this.runnerId}-${fn}`;
  }

  /** Creates the function's network unless it exists; returns its name. */
  ensure(fn: string): Promise<string> {
    let ensured = this.ensured.get(fn);
    if (!ensured) {
      ensured = this.create(fn);
      ensured.catch(() => this.ensured.delete(fn));
      this.ensured.set(fn, ensured);
    }
    return ensured;
  }

  /** Forgets that the network was made, so the next ensure() looks again. */
  forget(fn: string): void {
    this.ensured.delete(fn);
  }

  /** Removes the function's network once no container is attached to it (a gone network is fine). */
  async remove(fn: string): Promise<void> {
    this.ensured.delete(fn);
    await this.docker
      .getNetwork(this.nameFor(fn))
      .remove()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
  }

  /** This runner's networks whose function is not among `keep` (left by a function removed while it was down). */
  async removeAllBut(keep: Set<string>): Promise<string[]> {
    const networks = await this.docker.listNetworks({
      filters: labelFilter({ [LABEL_RUNNER]: this.runnerId }),
    });
    const removed: string[] = [];
    for (const network of networks) {
      const fn = network.Labels?.[LABEL_FUNCTION] ?? '';
      if (keep.has(fn)) continue;
      await this.remove(fn).then(
        () => removed.push(network.Name),
        () => undefined,
      );
    }
    return removed;
  }

  private async create(fn: string): Promise<string> {
    const name = this.nameFor(fn);
    const existing = await this.docker
      .getNetwork(name)
      .inspect()
      .catch(() => undefined);
    if (existing) return name;
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: managedLabels('network', { [LABEL_RUNNER]: this.runnerId, [LABEL_FUNCTION]: fn }),
        Options: { 'com.docker.network.bridge.enable_icc': 'false' },
      });
    } catch (error) {
      const { statusCode, message } = error as { statusCode?: number; message: string };
      if (statusCode === 409) return name; // made meanwhile by a concurrent start
      if (/non-overlapping|address pool/i.test(message)) throw new NetworkPoolExhaustedError(name, message);
      throw error;
    }
    return name;
  }
}

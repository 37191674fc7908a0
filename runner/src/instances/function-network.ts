import type { ContainerEngine } from '../../../engine/container-engine.js';
import { LABEL_FUNCTION, LABEL_RUNNER, managedLabels } from '../../../engine/labels.js';

/**
 * One bridge network per function: the runner (on the host) reaches every instance, but an instance cannot
 * reach another function's instances, nor another instance of its own function (no inter-container traffic),
 * and an address freed by one function can only ever be reused on that same function's network.
 */
export class FunctionNetworks {
  private readonly ensured = new Map<string, Promise<string>>();

  constructor(
    private readonly engine: ContainerEngine,
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
    await this.engine.removeNetwork(this.nameFor(fn));
  }

  /** This runner's networks whose function is not among `keep` (left by a function removed while it was down). */
  async removeAllBut(keep: Set<string>): Promise<string[]> {
    const networks = await this.engine.listNetworks({ [LABEL_RUNNER]: this.runnerId });
    const removed: string[] = [];
    for (const network of networks) {
      const fn = network.labels[LABEL_FUNCTION] ?? '';
      if (keep.has(fn)) continue;
      await this.remove(fn).then(
        () => removed.push(network.name),
        () => undefined,
      );
    }
    return removed;
  }

  private async create(fn: string): Promise<string> {
    const name = this.nameFor(fn);
    if (await this.engine.networkExists(name)) return name;
    await this.engine.createNetwork({
      name,
      labels: managedLabels('network', { [LABEL_RUNNER]: this.runnerId, [LABEL_FUNCTION]: fn }),
      isolated: true,
    });
    return name;
  }
}

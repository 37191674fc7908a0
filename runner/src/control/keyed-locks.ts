/**
 * One action at a time per key: per instance, an engine action (a shrink, a freeze, a wake; the planner skips
 * an instance whose lock is held, and a wake waits for the action under way and then undoes it); per
 * function, a deploy or a removal.
 */
export class KeyedLocks {
  private readonly held = new Map<string, Promise<void>>();

  isHeld(id: string): boolean {
    return this.held.has(id);
  }

  /** Resolves once no action holds the key. */
  async released(id: string): Promise<void> {
    while (this.held.has(id)) await this.held.get(id);
  }

  /** Runs `work` holding the key, once the action under way (if any) is done. */
  async run<T>(id: string, work: () => Promise<T>): Promise<T> {
    while (this.held.has(id)) await this.held.get(id);
    // From the check above to here nothing awaits: no other action can take the key in between.
    let release!: () => void;
    this.held.set(id, new Promise<void>((resolve) => (release = resolve)));
    try {
      return await work();
    } finally {
      this.held.delete(id);
      release();
    }
  }
}

import type { Clock } from '../instances/clock.js';
import type { Invocation, InvocationStore, NewInvocation } from './invocation-store.js';

interface Waiting {
  item: NewInvocation;
  resolve: (stored: { invocation: Invocation; duplicate: boolean }) => void;
  reject: (error: Error) => void;
}

/**
 * Events accepted in the same turn of the event loop are written in one transaction, so one fsync answers
 * them all; each caller hears back only once its event is on disk.
 */
export class GroupCommit {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly store: InvocationStore,
    private readonly clock: Clock,
  ) {}

  accept(item: NewInvocation): Promise<{ invocation: Invocation; duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting.splice(0);
    try {
      const stored = this.store.enqueue(
        batch.map((waiting) => waiting.item),
        this.clock.now(),
      );
      stored.forEach((result, index) => batch[index]!.resolve(result));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error as Error);
    }
  }
}

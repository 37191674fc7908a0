/** Runs an async job at most once; every caller, concurrent or later, gets the same settled promise. */
export function once<T>(job: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= job());
}

import { PassThrough } from 'node:stream';

type Destroyable = NodeJS.ReadableStream & { destroy?: () => void };

/**
 * One newline-delimited stream made of several, a whole line at a time, so that two sources never interleave
 * within a line. It ends as soon as any source ends or fails (its reader then opens them all again), and
 * destroying it destroys every source.
 */
export function mergeLines(sources: NodeJS.ReadableStream[]): NodeJS.ReadableStream {
  const merged = new PassThrough();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    for (const source of sources) (source as Destroyable).destroy?.();
    if (!merged.destroyed) merged.end();
  };
  for (const source of sources) {
    let pending = '';
    source.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lastNewline = pending.lastIndexOf('\n');
      if (lastNewline === -1 || ended) return;
      merged.write(pending.slice(0, lastNewline + 1));
      pending = pending.slice(lastNewline + 1);
    });
    source.on('end', end);
    source.on('close', end);
    source.on('error', end);
  }
  merged.on('close', end);
  return merged;
}

import type { ProgressEvent } from '../../../engine/follow-progress.js';

/** Renders a pull's per-layer progress as one line: redrawn in place on a terminal, printed once otherwise. */
export function pullProgress(image: string, out: NodeJS.WriteStream = process.stderr) {
  const layers = new Map<string, { current: number; total: number; done: boolean }>();
  const tty = Boolean(out.isTTY);
  let announced = false;
  let drawn = false;
  const mb = (bytes: number): string => (bytes / 1024 ** 2).toFixed(1);

  return {
    update(event: ProgressEvent): void {
      if (!announced) {
        out.write(`pulling ${image}${tty ? '' : '\n'}`);
        announced = true;
      }
      // "Pulling from REPO" carries the tag as its id: it is not a layer.
      if (!event.id || !event.status || event.status.startsWith('Pulling from')) return;
      const layer = layers.get(event.id) ?? { current: 0, total: 0, done: false };
      if (event.progressDetail?.total) {
        layer.total = event.progressDetail.total;
        layer.current = event.progressDetail.current ?? layer.current;
      }
      if (/Pull complete|Already exists/.test(event.status)) layer.done = true;
      layers.set(event.id, layer);
      if (!tty) return;
      const all = [...layers.values()];
      const current = all.reduce((sum, item) => sum + (item.done ? item.total : item.current), 0);
      const total = all.reduce((sum, item) => sum + item.total, 0);
      const width = 24;
      const filled = total ? Math.round((current / total) * width) : 0;
      out.write(
        `\rpulling ${image} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
          `${all.filter((item) => item.done).length}/${all.length} layers ${mb(current)}/${mb(total)} MB`,
      );
      drawn = true;
    },
    finish(): void {
      if (tty && (drawn || announced)) out.write('\n');
    },
  };
}

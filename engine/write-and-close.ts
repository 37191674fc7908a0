import type { Duplex } from 'node:stream';

/** How long the engine may take to close an attached stdin after its last byte. */
const CLOSE_WAIT_MS = 5000;

/**
 * Writes to a container's attached stdin and closes this side. Resolves once the engine has closed its side
 * too (it then has every byte), or after CLOSE_WAIT_MS; fails if the stream fails before the last byte left.
 */
export function writeAndClose(stream: Duplex, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let written = false;
    const done = (): void => {
      clearTimeout(timer);
      stream.destroy();
      resolve();
    };
    const timer = setTimeout(done, CLOSE_WAIT_MS);
    stream.on('finish', () => (written = true));
    stream.on('close', done);
    stream.on('end', done);
    stream.on('error', (error) => {
      if (written) return done();
      clearTimeout(timer);
      stream.destroy();
      reject(new Error(`the container's stdin closed before it had all it was given: ${error.message}`));
    });
    stream.resume();
    stream.end(text);
  });
}

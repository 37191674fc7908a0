import type { IncomingMessage } from 'node:http';
import { AdapterError } from '../forward/adapter-error.js';

/** Reads a whole request body, refusing with 413 as soon as it passes the limit. */
export function readBody(req: IncomingMessage, limit: number, limitName: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () =>
      new AdapterError(
        'BODY_TOO_LARGE',
        413,
        `the body is larger than the limit of ${limit} bytes (${limitName}): send less, or raise the limit`,
        { connection: 'close' },
      );
    if (declared > limit) {
      req.resume();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

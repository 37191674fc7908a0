/**
 * Splits the Engine's multiplexed log output of a non-TTY container: each frame is one byte of stream id
 * (1 stdout, 2 stderr), three zero bytes, a big-endian 32-bit length, then that many bytes.
 */
export function demuxLogs(raw: Buffer): { stdout: string; stderr: string; all: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const stream = raw[at];
    const size = raw.readUInt32BE(at + 4);
    const frame = raw.subarray(at + 8, at + 8 + size);
    (stream === 2 ? err : out).push(frame);
    all.push(frame);
    at += 8 + size;
  }
  return {
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    all: Buffer.concat(all).toString('utf8'),
  };
}

export interface LogFrame {
  /** 1 stdout, 2 stderr. */
  stream: number;
  data: Buffer;
}

/**
 * Splits the Engine's multiplexed log output of a non-TTY container: each frame is one byte of stream id
 * (1 stdout, 2 stderr), three zero bytes, a big-endian 32-bit length, then that many bytes. An incomplete
 * frame at the end comes back as `rest`, to be prefixed to the next chunk of a followed stream.
 */
export function splitFrames(raw: Buffer): { frames: LogFrame[]; rest: Buffer } {
  const frames: LogFrame[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    if (at + 8 + size > raw.length) break;
    frames.push({ stream: raw[at]!, data: raw.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return { frames, rest: raw.subarray(at) };
}

export function demuxLogs(raw: Buffer): { stdout: string; stderr: string; all: string } {
  const { frames } = splitFrames(raw);
  const text = (wanted: LogFrame[]) => Buffer.concat(wanted.map((frame) => frame.data)).toString('utf8');
  return {
    stdout: text(frames.filter((frame) => frame.stream !== 2)),
    stderr: text(frames.filter((frame) => frame.stream === 2)),
    all: text(frames),
  };
}

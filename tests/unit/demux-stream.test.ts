import { describe, expect, test } from '@jest/globals';
import { demuxLogs } from '../../engine/demux-stream.js';

function frame(stream: number, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe('demuxLogs', () => {
  test('separates stdout from stderr and keeps their order in all', () => {
    const raw = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
    expect(demuxLogs(raw)).toEqual({
      stdout: 'out one\nout two\n',
      stderr: 'err one\n',
      all: 'out one\nerr one\nout two\n',
    });
  });

  test('ignores a truncated trailing header', () => {
    expect(demuxLogs(Buffer.concat([frame(1, 'x'), Buffer.from([1, 0, 0])])).all).toBe('x');
  });
});

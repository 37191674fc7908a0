import { PassThrough } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import { mergeLines } from '../../runner/src/instances/merged-lines.js';

function read(stream: NodeJS.ReadableStream): { text: () => string; ended: Promise<void> } {
  let text = '';
  stream.on('data', (chunk: Buffer | string) => (text += chunk.toString()));
  return { text: () => text, ended: new Promise((resolve) => stream.on('end', () => resolve())) };
}

describe('mergeLines', () => {
  test('lines from two sources arrive whole, never mixed within a line', async () => {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const merged = read(mergeLines([a, b]));
    a.write('{"from":');
    b.write('{"from":"b"}\n{"fr');
    a.write('"a"}\n');
    b.write('om":"b2"}\n');
    a.end();
    await merged.ended;
    expect(merged.text().split('\n')).toEqual(['{"from":"b"}', '{"from":"a"}', '{"from":"b2"}', '']);
  });

  test('one source ending ends the whole and destroys the others; destroying the whole destroys all', async () => {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const merged = read(mergeLines([a, b]));
    b.destroy();
    await merged.ended;
    expect(a.destroyed).toBe(true);

    const [c, d] = [new PassThrough(), new PassThrough()];
    const whole = mergeLines([c, d]) as PassThrough;
    whole.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect([c.destroyed, d.destroyed]).toEqual([true, true]);
  });
});

import { describe, expect, test } from '@jest/globals';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../runner/src/spec/units.js';

describe('durations as people type them', () => {
  test.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['45', 45_000],
    [45, 45_000],
    [0.5, 500],
  ])('%p is %p ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(['', 'soon', '5 minutes', '-5s', '5x', 's5', '1h 30m'])('%p is not a duration', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  test.each([0, 250, 1000, 30_000, 90_000, 300_000, 7_200_000, 5_400_000, 86_400_000])(
    '%p ms is written back exactly',
    (ms) => expect(parseDuration(formatDuration(ms))).toBe(ms),
  );
});

describe('sizes as Docker writes them', () => {
  test.each([
    ['512m', 512 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['64mb', 64 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['1024k', 1024 ** 2],
    ['67108864', 67_108_864],
    [67_108_864, 67_108_864],
  ])('%p is %p bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  test.each(['', 'big', '5 gigs', '-1m', '1.5.5g'])('%p is not a size', (text) =>
    expect(parseSize(text)).toBeUndefined(),
  );

  test.each([512 * 1024 ** 2, 2 * 1024 ** 3, 1000, 1536 * 1024 ** 2])(
    '%p bytes are written back exactly',
    (bytes) => expect(parseSize(formatSize(bytes))).toBe(bytes),
  );
});

import { describe, expect, test } from '@jest/globals';
import { readDocument } from '../../runner/src/spec/function-document.js';
import { describeDefault, describeRange, FIELDS, type Field } from '../../runner/src/spec/function-schema.js';

const MiB = 1024 ** 2;

describe('one schema for every field of a function', () => {
  test('every field has a doc, and a default or a word on where its value comes from', () => {
    for (const field of FIELDS as readonly Field[]) {
      expect(field.doc.length).toBeGreaterThan(10);
      if (!field.required && !['env', 'hook', 'destination'].includes(field.kind)) {
        expect(describeDefault(field)).not.toBe('none');
      }
    }
  });

  test('a document with only an image gets every default, in canonical units', () => {
    const { document, problems } = readDocument({ image: 'shop:1' });
    expect(problems).toEqual([]);
    expect(document).toMatchObject({
      image: 'shop:1',
      cpus: 1,
      memory: 512 * MiB,
      reservedCpus: 0.05,
      reservedMemory: 128 * MiB,
      concurrency: 10,
      min: 1,
      max: 10,
      timeout: 300_000,
      reserveAfter: 30_000,
      freezeAfter: 120_000,
      zeroAfter: 300_000,
      stableWindow: 60_000,
      panicWindow: 6_000,
      readiness: '/',
      maxEventSize: 32 * MiB,
    });
  });

  test('durations and sizes are read as people type them, numbers as seconds and bytes', () => {
    const { document } = readDocument({
      image: 'shop',
      timeout: '2h',
      zeroAfter: 10,
      stableWindow: '1m30s',
      memory: '2g',
      reservedMemory: 67_108_864,
    });
    expect(document).toMatchObject({
      timeout: 7_200_000,
      zeroAfter: 10_000,
      stableWindow: 90_000,
      panicWindow: 9_000,
      memory: 2 * 1024 ** 3,
      reservedMemory: 64 * MiB,
    });
  });

  test('every problem is reported at once, each naming its field and what is allowed', () => {
    const { document, problems } = readDocument({
      image: 'shop',
      timeout: '3h',
      memory: 'lots',
      concurrency: 0,
      min: 4,
      max: 2,
      zeroAfter: 'soon',
      pull: 'sometimes',
    });
    expect(document).toBeUndefined();
    expect(problems).toEqual([
      'memory: lots is not a size: write 512m, 2g or a number of bytes (allowed 6m–1t)',
      'concurrency: 0 is out of range: allowed 1–1000 requests',
      'timeout: 3h is out of range: allowed 1s–2h',
      'zeroAfter: soon is not a duration: write 30s, 5m, 2h or a number of seconds (allowed 0s–1d)',
      'pull: sometimes is not one of always, missing, never',
      'max: 2 is below min 4: max must be at least min',
    ]);
  });

  test('an unknown field is named, with the closest known one', () => {
    const { problems } = readDocument({ image: 'shop', memroy: '1g', colour: 'blue' });
    expect(problems).toEqual([
      'memroy: no such field (did you mean memory?); `runner deploy --help` lists them',
      'colour: no such field; `runner deploy --help` lists them',
    ]);
  });

  test('rules between fields: the reserved spec is the small one, the panic window the short one', () => {
    expect(readDocument({ image: 'shop', cpus: 0.5, reservedCpus: 1 }).problems).toEqual([
      'reservedCpus: 1 is above cpus 0.5: the reserved spec is the small one',
    ]);
    expect(readDocument({ image: 'shop', stableWindow: '10s', panicWindow: '20s' }).problems).toEqual([
      'panicWindow: 20s is longer than stableWindow: it must be at most as long',
    ]);
    expect(readDocument({ image: 'shop', port: 9000 }).problems).toEqual([
      "port: 9000 is the adapter's port: give the app another",
    ]);
  });

  test('env comes as KEY=VALUE flags or a map, and PILOTLIGHT_* stays the adapter’s', () => {
    expect(readDocument({ image: 'shop', env: ['A=b=c', 'B='] }).document?.env).toEqual({ A: 'b=c', B: '' });
    expect(readDocument({ image: 'shop', env: { A: 1 } }).document?.env).toEqual({ A: '1' });
    expect(readDocument({ image: 'shop', env: ['NOEQUALS'] }).problems).toEqual([
      'env: NOEQUALS must be KEY=VALUE',
    ]);
    expect(readDocument({ image: 'shop', env: ['PILOTLIGHT_PORT=1'] }).problems).toEqual([
      'env: PILOTLIGHT_PORT is reserved for the adapter (PILOTLIGHT_*)',
    ]);
  });

  test('ranges read the way the docs write them', () => {
    const byKey = (key: string) => (FIELDS as readonly Field[]).find((field) => field.key === key)!;
    expect(describeRange(byKey('timeout'))).toBe('1s–2h');
    expect(describeRange(byKey('memory'))).toBe('6m–1t');
    expect(describeRange(byKey('cpus'))).toBe('0.01–64 CPUs');
    expect(describeDefault(byKey('freezeAfter'))).toBe('2m');
  });
});

import { describe, expect, test } from '@jest/globals';
import { AppLiveness } from '../../adapter/src/app-liveness.js';

function watched() {
  let now = 0;
  const found: string[] = [];
  const liveness = new AppLiveness(() => now);
  void liveness.stuck.then((reason) => found.push(reason));
  return { liveness, found, at: (ms: number) => (now = ms) };
}

describe('AppLiveness', () => {
  test('a call that times out with no answer begun since it began: stuck, with the reason', async () => {
    const { liveness, found, at } = watched();
    at(100);
    liveness.answered();
    at(5000);
    liveness.timedOut(2000);
    await Promise.resolve();
    expect(found).toEqual([
      'the app is stuck: a request timed out after 3000 ms, and the app began no answer to any request meanwhile',
    ]);
  });

  test('an answer begun after the call began, to it or to another request, means the app is alive', async () => {
    const { liveness, found, at } = watched();
    at(2000);
    liveness.answered();
    at(5000);
    liveness.timedOut(2000);
    at(6000);
    liveness.answered();
    at(9000);
    liveness.timedOut(5500);
    await Promise.resolve();
    expect(found).toEqual([]);
  });
});

import { describe, expect, test } from '@jest/globals';
import type { EdgeSlot } from '../../runner/src/edge/edge-config.js';
import { MAINT, formCommands, sameForm, serverForm } from '../../runner/src/edge/server-form.js';

function slot(extra: Partial<EdgeSlot> = {}): EdgeSlot {
  return { instance: 'fn-1', address: '172.20.0.2:3000', maxconn: 4, state: 'ready', ...extra };
}

describe('what the current worker gives a server', () => {
  test('a ready instance takes what the old workers do not hold at its address', () => {
    expect(serverForm(slot(), 0)).toEqual({ state: 'ready', maxconn: 4 });
    expect(serverForm(slot(), 3)).toEqual({ state: 'ready', maxconn: 1 });
  });

  test('none while the old workers hold all of it, or more (a lower concurrency since)', () => {
    expect(serverForm(slot(), 4)).toEqual(MAINT);
    expect(serverForm(slot(), 6)).toEqual(MAINT);
  });

  test('a free slot, a held instance and a draining one keep their state whatever the old workers hold', () => {
    expect(serverForm(slot({ instance: undefined }), 0)).toEqual(MAINT);
    expect(serverForm(slot({ state: 'maint' }), 0)).toEqual(MAINT);
    expect(serverForm(slot({ state: 'drain' }), 4)).toEqual({ state: 'drain' });
  });

  test('forms compare by state, and by maxconn when ready', () => {
    expect(sameForm({ state: 'ready', maxconn: 2 }, { state: 'ready', maxconn: 2 })).toBe(true);
    expect(sameForm({ state: 'ready', maxconn: 2 }, { state: 'ready', maxconn: 3 })).toBe(false);
    expect(sameForm(MAINT, { state: 'drain' })).toBe(false);
  });
});

describe('the commands from one form to another', () => {
  const id = 'pool1/s1';

  test('into service: at weight 0 first, its maxconn last', () => {
    expect(formCommands(id, MAINT, { state: 'ready', maxconn: 2 }, { address: '172.20.0.9:8080' })).toEqual([
      `set server ${id} weight 0`,
      `set server ${id} addr 172.20.0.9 port 8080`,
      `set server ${id} check-port 8080`,
      `set server ${id} health up`,
      `set server ${id} state ready`,
      `set server ${id} weight 1`,
      `set maxconn server ${id} 2`,
    ]);
  });

  test('a ready server given more room: only its maxconn, which takes its share of the queue counted', () => {
    expect(formCommands(id, { state: 'ready', maxconn: 1 }, { state: 'ready', maxconn: 3 })).toEqual([
      `set maxconn server ${id} 3`,
    ]);
    expect(formCommands(id, { state: 'ready', maxconn: 3 }, { state: 'ready', maxconn: 3 })).toEqual([]);
  });

  test('a ready server put in service again (found down by its checks): the whole sequence', () => {
    expect(
      formCommands(id, { state: 'ready', maxconn: 2 }, { state: 'ready', maxconn: 2 }, { reup: true }),
    ).toEqual([
      `set server ${id} weight 0`,
      `set server ${id} health up`,
      `set server ${id} state ready`,
      `set server ${id} weight 1`,
      `set maxconn server ${id} 2`,
    ]);
  });

  test('out of service: one state change, none when it is already there', () => {
    expect(formCommands(id, { state: 'ready', maxconn: 2 }, MAINT)).toEqual([`set server ${id} state maint`]);
    expect(formCommands(id, { state: 'ready', maxconn: 2 }, { state: 'drain' })).toEqual([
      `set server ${id} state drain`,
    ]);
    expect(formCommands(id, MAINT, MAINT)).toEqual([]);
  });
});

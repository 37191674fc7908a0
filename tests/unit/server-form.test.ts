import { describe, expect, test } from '@jest/globals';
import type { EdgeSlot } from '../../runner/src/edge/edge-config.js';
import {
  MAINT,
  configuredForm,
  formCommands,
  sameForm,
  serverForm,
} from '../../runner/src/edge/server-form.js';

function slot(extra: Partial<EdgeSlot> = {}): EdgeSlot {
  return { instance: 'fn-1', address: '172.20.0.2:3000', maxconn: 4, state: 'ready', ...extra };
}

describe('what the current worker gives a server', () => {
  test('a ready instance takes what the old workers do not hold at its address', () => {
    expect(serverForm(slot(), 0)).toEqual({ state: 'ready', maxconn: 4 });
    expect(serverForm(slot(), 3)).toEqual({ state: 'ready', maxconn: 1 });
  });

  test('held while the old workers hold all of it, or more (a lower concurrency since), with its whole maxconn for the fallback', () => {
    expect(serverForm(slot(), 4)).toEqual({ state: 'held', maxconn: 4 });
    expect(serverForm(slot(), 6)).toEqual({ state: 'held', maxconn: 4 });
  });

  test('a new worker starts a draining server in maint: it has none of its requests', () => {
    expect(configuredForm({ state: 'drain' })).toEqual(MAINT);
    expect(configuredForm({ state: 'held', maxconn: 4 })).toEqual({ state: 'held', maxconn: 4 });
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

  test('held: up at weight 0 with its whole maxconn; given room, its maxconn first, then its weight, then its maxconn again to take its share of the queue', () => {
    expect(formCommands(id, MAINT, { state: 'held', maxconn: 4 })).toEqual([
      `set server ${id} weight 0`,
      `set server ${id} health up`,
      `set server ${id} state ready`,
      `set maxconn server ${id} 4`,
    ]);
    expect(formCommands(id, { state: 'ready', maxconn: 2 }, { state: 'held', maxconn: 4 })).toEqual([
      `set server ${id} weight 0`,
      `set maxconn server ${id} 4`,
    ]);
    expect(formCommands(id, { state: 'held', maxconn: 4 }, { state: 'ready', maxconn: 1 })).toEqual([
      `set maxconn server ${id} 1`,
      `set server ${id} weight 1`,
      `set maxconn server ${id} 1`,
    ]);
    expect(formCommands(id, { state: 'held', maxconn: 4 }, { state: 'held', maxconn: 4 })).toEqual([]);
  });

  test('a held server leaving the balancing gets its weight back: weight 0 reads as held to the fallback', () => {
    expect(formCommands(id, { state: 'held', maxconn: 4 }, { state: 'drain' })).toEqual([
      `set server ${id} state drain`,
      `set server ${id} weight 1`,
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

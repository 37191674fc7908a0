import type { EdgeSlot } from './edge-config.js';

/**
 * A server as the edge's current worker has it: taking none, finishing its own, taking up to maxconn, or held:
 * up at weight 0, so that the balancing sends it nothing (the activator holds the function's requests until the
 * runner gives it room), while the edge's own fallback may still send it requests if the runner is down.
 */
export type ServerForm =
  | { state: 'maint' }
  | { state: 'drain' }
  | { state: 'ready'; maxconn: number }
  | { state: 'held'; maxconn: number };

export const MAINT: ServerForm = { state: 'maint' };

/**
 * What the current worker may give a slot's instance. Each worker of a reload counts only its own requests
 * against a server's maxconn: the old workers still finish theirs (`withheld`, at the instance's address), so
 * the current one takes only the rest, and none while they hold it all: then it is held. A held server keeps its
 * whole maxconn for the fallback, which the runner being down leaves no one to raise.
 */
export function serverForm(slot: EdgeSlot, withheld: number): ServerForm {
  if (slot.instance === undefined || slot.state === 'maint') return MAINT;
  if (slot.state === 'drain') return { state: 'drain' };
  const room = slot.maxconn - withheld;
  return room > 0 ? { state: 'ready', maxconn: room } : { state: 'held', maxconn: slot.maxconn };
}

/**
 * The form a new worker's configuration gives a server: a draining one starts in maint there (it has none of
 * the instance's requests, and weight 0 would read as held to the fallback).
 */
export function configuredForm(form: ServerForm): ServerForm {
  return form.state === 'drain' ? MAINT : form;
}

export function sameForm(a: ServerForm, b: ServerForm): boolean {
  if (a.state !== b.state) return false;
  return !('maxconn' in a) || a.maxconn === (b as { maxconn: number }).maxconn;
}

export interface FormChange {
  /** IP:PORT, when the server is to connect to another address than it has. */
  address?: string | undefined;
  /** Put in service again even if it is already: brings back a server its checks found down. */
  reup?: boolean;
}

/** Every server's weight when it takes requests: least connections among equals. */
const SERVER_WEIGHT = 1;

/**
 * The Runtime API commands that take server `id` from one form to another. A server is put in service at
 * weight 0 first: one that comes up usable is handed requests from the backend's queue that HAProxy 2.6
 * never counts against its maxconn (pendconn_grab_from_px), and a change of weight hands it none. Its maxconn
 * is set last, and takes its share of the queue the counted way (process_srv_queue), as a raise of it does.
 */
export function formCommands(
  id: string,
  before: ServerForm,
  after: ServerForm,
  change: FormChange = {},
): string[] {
  const set = (what: string) => `set server ${id} ${what}`;
  const maxconn = (value: number) => `set maxconn server ${id} ${value}`;
  const move = change.address === undefined ? [] : addressCommands(id, change.address);
  const inPlace = move.length === 0 && !change.reup;
  if (after.state === 'maint' || after.state === 'drain') {
    if (before.state === after.state && move.length === 0) return [];
    // Its weight back once out of balancing: weight 0 reads as held to the fallback.
    return [
      ...move,
      set(`state ${after.state}`),
      ...(before.state === 'held' ? [set(`weight ${SERVER_WEIGHT}`)] : []),
    ];
  }
  if (after.state === 'held') {
    if (before.state === 'held' && inPlace) return [];
    if (before.state === 'ready' && inPlace) return [set('weight 0'), maxconn(after.maxconn)];
    return [set('weight 0'), ...move, set('health up'), set('state ready'), maxconn(after.maxconn)];
  }
  if (before.state === 'ready' && inPlace) {
    return before.maxconn === after.maxconn ? [] : [maxconn(after.maxconn)];
  }
  if (before.state === 'held' && inPlace) {
    // Its room first while at weight 0 (it takes nothing from the backend's queue then), and again at its weight.
    return [maxconn(after.maxconn), set(`weight ${SERVER_WEIGHT}`), maxconn(after.maxconn)];
  }
  return [
    set('weight 0'),
    ...move,
    set('health up'),
    set('state ready'),
    set(`weight ${SERVER_WEIGHT}`),
    maxconn(after.maxconn),
  ];
}

function addressCommands(id: string, address: string): string[] {
  const at = address.lastIndexOf(':');
  const [ip, port] = [address.slice(0, at), address.slice(at + 1)];
  // The check keeps the port the slot was configured with unless told.
  return [`set server ${id} addr ${ip} port ${port}`, `set server ${id} check-port ${port}`];
}

import type { EdgeSlot } from './edge-config.js';

/** A server as the edge's current worker has it: taking none, finishing its own, or taking up to maxconn. */
export type ServerForm = { state: 'maint' } | { state: 'drain' } | { state: 'ready'; maxconn: number };

export const MAINT: ServerForm = { state: 'maint' };

/**
 * What the current worker may give a slot's instance. Each worker of a reload counts only its own requests
 * against a server's maxconn: the old workers still finish theirs (`withheld`, at the instance's address), so
 * the current one takes only the rest, and none while they hold it all: then the server is in maintenance,
 * and the function's requests wait in the activator if no other server has room.
 */
export function serverForm(slot: EdgeSlot, withheld: number): ServerForm {
  if (slot.instance === undefined || slot.state === 'maint') return MAINT;
  if (slot.state === 'drain') return { state: 'drain' };
  const room = slot.maxconn - withheld;
  return room > 0 ? { state: 'ready', maxconn: room } : MAINT;
}

export function sameForm(a: ServerForm, b: ServerForm): boolean {
  return a.state === b.state && (a.state !== 'ready' || a.maxconn === (b as { maxconn: number }).maxconn);
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
  const move = change.address === undefined ? [] : addressCommands(id, change.address);
  if (after.state !== 'ready') {
    return before.state === after.state && move.length === 0
      ? []
      : [...move, `set server ${id} state ${after.state}`];
  }
  if (before.state === 'ready' && move.length === 0 && !change.reup) {
    return before.maxconn === after.maxconn ? [] : [`set maxconn server ${id} ${after.maxconn}`];
  }
  return [
    `set server ${id} weight 0`,
    ...move,
    `set server ${id} health up`,
    `set server ${id} state ready`,
    `set server ${id} weight ${SERVER_WEIGHT}`,
    `set maxconn server ${id} ${after.maxconn}`,
  ];
}

function addressCommands(id: string, address: string): string[] {
  const at = address.lastIndexOf(':');
  const [ip, port] = [address.slice(0, at), address.slice(at + 1)];
  // The check keeps the port the slot was configured with unless told.
  return [`set server ${id} addr ${ip} port ${port}`, `set server ${id} check-port ${port}`];
}

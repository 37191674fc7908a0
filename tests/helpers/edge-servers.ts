import { join } from 'node:path';
import { edgeCommand } from '../../runner/src/edge/edge-socket.js';

/** The Runtime API's socket of a runner's edge. */
export function edgeAdmin(dataDir: string): string {
  return join(dataDir, 'edge', 'admin.sock');
}

/** The backend the running edge routes a function to, as its functions map says. */
export async function edgeBackendOf(dataDir: string, fn: string): Promise<string> {
  const answer = await edgeCommand(edgeAdmin(dataDir), `show map ${join(dataDir, 'edge', 'functions.map')}`);
  // Lines: ID KEY VALUE.
  const entry = answer
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === fn);
  if (!entry) throw new Error(`the edge routes no backend to ${fn}:\n${answer}`);
  return entry[2]!;
}

/** `show servers state` of the function's backend, one array of fields per server. */
export async function edgeServerStates(dataDir: string, fn: string): Promise<string[][]> {
  const backend = await edgeBackendOf(dataDir, fn);
  const answer = await edgeCommand(edgeAdmin(dataDir), `show servers state ${backend}`);
  // Fields: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state …
  return answer
    .split('\n')
    .filter((line) => /^\d+ /.test(line))
    .map((line) => line.split(' '));
}

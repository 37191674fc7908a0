import { connect } from 'node:net';
import { PilotlightError } from '../../../common/pilotlight-error.js';

export class EdgeCommandError extends PilotlightError {
  constructor(command: string, answer: string) {
    super('EDGE_COMMAND_FAILED', `the edge refused \`${command}\`: ${answer.trim()}`, 500);
  }
}

/** One command on an HAProxy CLI socket (Runtime API or master CLI); resolves with the whole answer. */
export function edgeCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let answer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer to \`${command}\` within ${timeoutMs} ms`)),
    );
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(`${command}\n`);
  });
}

/** Answers of the Runtime API that mean the command did not do what it says (it answers 200-ish text). */
const REFUSALS =
  /^(No such|Unknown|Invalid|Require|Can't|Cannot|'[^']*' (?:is|failed)|Server .* is not|Error|Proxy .* not found)/m;

/** A Runtime API command whose refusal is an error. */
export async function edgeAction(socketPath: string, command: string): Promise<string> {
  const answer = await edgeCommand(socketPath, command);
  if (REFUSALS.test(answer.trim())) throw new EdgeCommandError(command, answer);
  return answer;
}

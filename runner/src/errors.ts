import { PilotlightError } from '../../common/pilotlight-error.js';

export class UnknownFunctionError extends PilotlightError {
  constructor(name: string) {
    super(
      'UNKNOWN_FUNCTION',
      `no function named "${name}": deploy one with \`runner deploy IMAGE --name ${name}\``,
      404,
    );
  }
}

/** The runner itself failed on a request, for a reason it has no code for; its log has the stack. */
export class RunnerFailedError extends PilotlightError {
  constructor(detail: string) {
    super('RUNNER_FAILED', `the runner failed on this request (${detail}); its log has the details`, 500);
  }
}

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

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

export class NotRoutedError extends PilotlightError {
  constructor(path: string) {
    super('NOT_ROUTED', `${path} names no function: call /fn/NAME/... or send Host: NAME.localhost`, 404);
  }
}

export class ReservedPathError extends PilotlightError {
  constructor(path: string) {
    super(
      'RESERVED_PATH',
      `${path.split('?')[0]} is under /_/, which is reserved for the runner's control of instances`,
      403,
    );
  }
}

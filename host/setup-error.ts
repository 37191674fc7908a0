import { PilotlightError } from '../common/pilotlight-error.js';

/** Preparing the machine failed (a package would not install, a daemon would not start). */
export class SetupError extends PilotlightError {
  constructor(message: string) {
    super('SETUP_FAILED', message, 500);
  }
}

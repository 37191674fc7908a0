import { PilotlightError } from '../../../common/pilotlight-error.js';

export class AppNeverReadyError extends PilotlightError {
  constructor(fn: string, reason: string, logTail: string) {
    super(
      'APP_NEVER_READY',
      `function ${fn}: the app never became ready (${reason}); check --port and the app's start-up. ` +
        `Its last log lines:\n${logTail || '(no output)'}`,
      502,
    );
  }
}

export class InitializerFailedError extends PilotlightError {
  constructor(fn: string, instance: string, reason: string) {
    super('INITIALIZER_FAILED', `function ${fn}: the initializer failed on ${instance}: ${reason}`, 502);
  }
}

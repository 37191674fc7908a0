/**
 * A known failure: it has a stable code, the HTTP status it maps to, and a message that names the problem
 * and the fix. The CLI prints these as one line; anything else is a crash and is printed with its stack.
 */
export class PilotlightError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 500) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

export class EngineUnavailableError extends PilotlightError {
  constructor(message: string) {
    super('ENGINE_UNAVAILABLE', message, 503);
  }
}

export class SetupError extends PilotlightError {
  constructor(message: string) {
    super('SETUP_FAILED', message, 500);
  }
}

export class ImageBuildError extends PilotlightError {
  constructor(image: string, detail: string) {
    super('IMAGE_BUILD_FAILED', `building ${image} failed: ${detail}`, 500);
  }
}

export function isPilotlightError(error: unknown): error is PilotlightError {
  return error instanceof PilotlightError;
}

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

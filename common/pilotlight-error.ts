/**
 * A known failure: it has a stable code, the HTTP status it maps to, and a message that names the problem
 * and the fix. The CLI prints these as one line; anything else is a crash and is printed with its stack.
 */
export class PilotlightError extends Error {
  readonly code: string;
  readonly status: number;
  /** More for machines, beside the message: it goes into the error envelope as it is. */
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 500, detail?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

export function isPilotlightError(error: unknown): error is PilotlightError {
  return error instanceof PilotlightError;
}

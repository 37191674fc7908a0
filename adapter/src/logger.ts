export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** One JSON object a line, so the adapter's lines stand apart from the app's own output. */
export function createLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const emit = (level: string, msg: string, fields?: LogFields): void =>
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level, source: 'pilotlight-adapter', msg, ...fields })}\n`,
    );
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

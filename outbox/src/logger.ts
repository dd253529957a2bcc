/** One level of `Logger`: fields then a message, or a message alone (pino's calling convention). */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What the runtime logs through: the smallest interface a pino logger (or any logger with these
 * four levels and pino's argument order) satisfies, so the runtime does not depend on pino.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export const CliErrorCode = {
  /** A bad environment variable or option: exit 2 before anything starts. */
  BadConfig: "BAD_CONFIG",
  /** The command needs a running system that is not there. */
  NotRunning: "NOT_RUNNING",
  /** Another runner owns the data directory. */
  AlreadyRunning: "ALREADY_RUNNING",
  /** Something failed at run time (a service exited, a server did not start). */
  Failed: "FAILED",
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** An error the CLI reports as one line on stderr, with an exit code derived from its code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: CliErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isCliError = (err: unknown): err is CliError => err instanceof CliError;

export function exitCodeOf(code: CliErrorCode): number {
  switch (code) {
    case CliErrorCode.BadConfig:
    case CliErrorCode.NotRunning:
      return 2;
    case CliErrorCode.AlreadyRunning:
    case CliErrorCode.Failed:
      return 1;
    default: {
      const never: never = code;
      return never;
    }
  }
}

/** One line for any throwable (first line of its message). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split("\n")[0]!.trim();
}

/** A URL safe to print: the password is replaced by `***`. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

export const OutboxErrorCode = {
  StreamDrift: "STREAM_DRIFT",
  Migration: "MIGRATION_FAILED",
  Config: "BAD_CONFIG",
  Publish: "PUBLISH_FAILED",
  InvalidHeaders: "INVALID_HEADERS",
  UnknownEvent: "UNKNOWN_EVENT",
  /** A stream, consumer or dead letter the caller named does not exist. */
  NotFound: "NOT_FOUND",
  /** A stream sequence outside the stream. */
  OutOfRange: "OUT_OF_RANGE",
  /** A running instance refused a control request (e.g. it works on another database than the caller). */
  ControlRefused: "CONTROL_REFUSED",
} as const;
export type OutboxErrorCode = (typeof OutboxErrorCode)[keyof typeof OutboxErrorCode];

export class OutboxError extends Error {
  override name = "OutboxError";
  constructor(
    readonly code: OutboxErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isOutboxError = (err: unknown): err is OutboxError => err instanceof OutboxError;

/** A short string for logs and dead-letter headers from any throwable. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * True for errors that say the database is unreachable rather than that a statement is wrong:
 * SQLSTATE class 08 (connection exception), 57P0x (shutdown, cannot connect now), 53300 (too many
 * connections), socket errors, and node-postgres's own "connection terminated / not queryable".
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === "string" ? e.code : "";
  if (code.startsWith("08") || code.startsWith("57P") || code === "53300") return true;
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND"].includes(code))
    return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /Connection terminated|not queryable|timeout exceeded when trying to connect|Client was closed|ECONNRE/i.test(
    message,
  );
}

/**
 * True for failures that say nothing about the message being applied, so retrying must not count
 * towards dead-lettering it: the database unreachable, a deadlock or serialization failure, or a
 * prepared plan invalidated by a migration (see PreparingClient).
 */
export function isTransientDatabaseError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return isDatabaseUnavailable(err) || code === "40P01" || code === "40001" || code === "0A000";
}

export const OutboxErrorCode = {
  StreamDrift: "STREAM_DRIFT",
  Migration: "MIGRATION_FAILED",
  Config: "BAD_CONFIG",
  Publish: "PUBLISH_FAILED",
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

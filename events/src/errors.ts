/** Why an incoming message could not be decoded. Each is a distinct, expected outcome of `decode`. */
export const DecodeErrorCode = {
  MissingHeader: "MISSING_HEADER",
  InvalidHeader: "INVALID_HEADER",
  UnknownType: "UNKNOWN_TYPE",
  UnsupportedVersion: "UNSUPPORTED_VERSION",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  MalformedJson: "MALFORMED_JSON",
  SchemaViolation: "SCHEMA_VIOLATION",
  SubjectMismatch: "SUBJECT_MISMATCH",
} as const;
export type DecodeErrorCode = (typeof DecodeErrorCode)[keyof typeof DecodeErrorCode];

export class EventsError extends Error {
  override name = "EventsError";
  readonly code: DecodeErrorCode | "INVALID_EVENT" | "INVALID_CATALOG";
  constructor(
    code: DecodeErrorCode | "INVALID_EVENT" | "INVALID_CATALOG",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
  }
}

/** A message that can never be applied; `issues` lists schema problems when there are any. */
export class DecodeError extends EventsError {
  override name = "DecodeError";
  declare readonly code: DecodeErrorCode;
  readonly issues: readonly { path: string; message: string }[];
  constructor(
    code: DecodeErrorCode,
    message: string,
    options?: { cause?: unknown; issues?: readonly { path: string; message: string }[] },
  ) {
    super(code, message, options);
    this.issues = options?.issues ?? [];
  }
}

export const isDecodeError = (err: unknown): err is DecodeError => err instanceof DecodeError;

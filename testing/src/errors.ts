export const InfraErrorCode = {
  NoNats: "NO_NATS",
  NoPostgres: "NO_POSTGRES",
  SpawnFailed: "SPAWN_FAILED",
  Timeout: "TIMEOUT",
  BadConfig: "BAD_CONFIG",
} as const;
export type InfraErrorCode = (typeof InfraErrorCode)[keyof typeof InfraErrorCode];

export class InfraError extends Error {
  override name = "InfraError";
  constructor(
    readonly code: InfraErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isInfraError = (err: unknown): err is InfraError => err instanceof InfraError;

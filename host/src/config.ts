import { accessSync, constants, readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_DEAD_LETTER_LIMITS, OutboxError, type DeadLetterLimits } from "@orderflow/outbox";

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`,
  );

const port = z.coerce
  .number({ error: "must be a number" })
  .int("must be an integer")
  .min(0)
  .max(65535, "must be at most 65535");
const positive = z.coerce.number({ error: "must be a number" }).int().positive();

export const baseConfigShape = {
  NATS_URL: z
    .string()
    .default("nats://127.0.0.1:4222")
    .pipe(url(["nats:", "tls:", "ws:", "wss:"])),
  DATABASE_URL: z
    .string()
    .default("postgres://postgres@127.0.0.1:5432/postgres")
    .pipe(url(["postgres:", "postgresql:"])),
  HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,32}$/, "letters, digits, _ or -, at most 32")
    .default(""),
  NATS_REPLICAS: z.coerce
    .number()
    .int()
    .refine((n) => n === 1 || n === 3 || n === 5, "must be 1, 3 or 5")
    .default(1),
  RELAY_BATCH_SIZE: positive.default(500),
  RELAY_MAX_IN_FLIGHT: positive.default(1000),
  RELAY_POLL_MS: positive.default(1000),
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().default(24),
  // Longer than any redelivery, republish (OUTBOX_RETENTION_HOURS) or consumer downtime: a duplicate
  // arriving after its inbox row expired would be applied again.
  INBOX_RETENTION_HOURS: z.coerce.number().positive().default(168),
  ...deadLetterShape(),
  // Off behind a pooler that cannot keep named statements (PgBouncer < 1.21 in transaction mode).
  DATABASE_PREPARED_STATEMENTS: z
    .enum(["true", "false"], { error: 'must be "true" or "false"' })
    .default("true"),
  // Unset: the service definition's default (see ServiceDefinition.consumerConcurrency).
  CONSUMER_CONCURRENCY: positive.optional(),
  CONSUMER_BATCH_SIZE: positive.default(100),
  CONSUMER_MAX_DELIVER: positive.default(5),
  CONSUMER_BACKOFF_MS: positive.default(200),
  // Unset: operator routes (`config: { operator: true }`) refuse every request. Also OPERATOR_TOKEN_FILE.
  OPERATOR_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .min(16, "must be at least 16 characters")
    .optional(),
  // Set: GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (Prometheus' scrape
  // `authorization`); unset: public. Also METRICS_TOKEN_FILE.
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .min(16, "must be at least 16 characters")
    .optional(),
  // The service's NATS identity: an NKey user seed (`SU…`, as `nkeys.createUser()` makes), or a user
  // and password; unset: anonymous. Also NATS_NKEY_SEED_FILE / NATS_PASSWORD_FILE.
  NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, "must be an NKey user seed (58 characters starting with SU)")
    .optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  // TLS to NATS (PEM file paths): the CA its server certificate is checked against, and a client
  // certificate with its key for a server that requires one (mutual TLS). Unset: TLS only if the
  // server requires it, checked against the system's CAs.
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS_CERT: z.string().min(1).optional(),
  NATS_TLS_KEY: z.string().min(1).optional(),
};

/** Variables whose values an error message never repeats. */
const SECRET = /(TOKEN|PASSWORD|SECRET|SEED)$/;

/** How a service proves its NATS identity (from NATS_NKEY_SEED, or NATS_USER and NATS_PASSWORD). */
export type NatsCredentials =
  | { readonly kind: "nkey"; readonly seed: string }
  | { readonly kind: "user"; readonly user: string; readonly password: string };

/** The TLS files of the NATS connection (NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY): nats.js `tls` options. */
export interface NatsTlsFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface BaseConfig {
  readonly service: string;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly preparedStatements: boolean;
  /** What `Authorization: Bearer` must carry on operator routes; undefined: they are closed. */
  readonly operatorToken: string | undefined;
  /** Bearer token GET /metrics requires; undefined: public. */
  readonly metricsToken: string | undefined;
  /** Its NATS identity; undefined: it connects anonymously. */
  readonly natsCredentials: NatsCredentials | undefined;
  /** Its NATS TLS files; undefined: TLS only if the server requires it. */
  readonly natsTls: NatsTlsFiles | undefined;
  readonly relay: {
    batchSize: number;
    maxInFlight: number;
    pollIntervalMs: number;
    retentionMs: number;
    inboxRetentionMs: number;
  };
  readonly deadLetters: DeadLetterLimits;
  readonly consumer: {
    concurrency: number | undefined;
    batchSize: number;
    maxDeliver: number;
    backoffMs: number;
  };
}

/**
 * Parses the environment of service `name` once. A bad value throws an OutboxError whose message is
 * one line naming the variable, e.g. `ORDER_PORT: must be at most 65535 (got "70000")`.
 */
export function parseConfig<Extra extends z.ZodRawShape>(
  env: Record<string, string | undefined>,
  service: { name: string; database: string; defaultPort: number; config?: Extra },
): BaseConfig & z.infer<z.ZodObject<Extra>> {
  const prefix = service.name.toUpperCase();
  const shape = {
    ...baseConfigShape,
    [`${prefix}_PORT`]: port.default(service.defaultPort),
    [`${prefix}_DATABASE_URL`]: url(["postgres:", "postgresql:"]).optional(),
    ...(service.config ?? {}),
  };
  // Empty strings count as unset, as in most twelve-factor tooling.
  const cleaned = withFileValues(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")),
    Object.keys(shape),
  );
  const c = parseOrThrow(shape, cleaned) as Record<string, unknown> &
    z.infer<z.ZodObject<typeof baseConfigShape>>;
  const natsCredentials = natsCredentialsOf(c);
  const natsTls = natsTlsOf(c);
  const serverUrl = new URL(c.DATABASE_URL);
  serverUrl.pathname = `/${service.database}`;
  return {
    ...(c as object),
    service: service.name,
    natsUrl: c.NATS_URL,
    databaseUrl: (c[`${prefix}_DATABASE_URL`] as string | undefined) ?? serverUrl.toString(),
    host: c.HOST,
    port: c[`${prefix}_PORT`] as number,
    logLevel: c.LOG_LEVEL,
    namespace: c.NATS_NAMESPACE,
    replicas: c.NATS_REPLICAS,
    preparedStatements: c.DATABASE_PREPARED_STATEMENTS === "true",
    operatorToken: c.OPERATOR_TOKEN,
    metricsToken: c.METRICS_TOKEN,
    natsCredentials,
    natsTls,
    relay: {
      batchSize: c.RELAY_BATCH_SIZE,
      maxInFlight: c.RELAY_MAX_IN_FLIGHT,
      pollIntervalMs: c.RELAY_POLL_MS,
      retentionMs: c.OUTBOX_RETENTION_HOURS * 3_600_000,
      inboxRetentionMs: c.INBOX_RETENTION_HOURS * 3_600_000,
    },
    deadLetters: deadLettersOf(c),
    consumer: {
      concurrency: c.CONSUMER_CONCURRENCY,
      batchSize: c.CONSUMER_BATCH_SIZE,
      maxDeliver: c.CONSUMER_MAX_DELIVER,
      backoffMs: c.CONSUMER_BACKOFF_MS,
    },
  } as BaseConfig & z.infer<z.ZodObject<Extra>>;
}

/** The first bad variable as one line naming it. */
function parseOrThrow<S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined>) {
  const r = z.object(shape).safeParse(env);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = String(issue.path[0]);
  const got = SECRET.test(key) ? undefined : env[key];
  throw new OutboxError(
    "BAD_CONFIG",
    `${key}: ${issue.message}${got === undefined ? "" : ` (got "${got}")`}`,
  );
}

function deadLetterShape() {
  return {
    DLQ_MAX_AGE_HOURS: z.coerce
      .number()
      .positive()
      .default(DEFAULT_DEAD_LETTER_LIMITS.maxAgeMs / 3_600_000),
    DLQ_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULT_DEAD_LETTER_LIMITS.maxBytes),
  };
}

function deadLettersOf(c: { DLQ_MAX_AGE_HOURS: number; DLQ_MAX_BYTES: number }): DeadLetterLimits {
  return { maxAgeMs: c.DLQ_MAX_AGE_HOURS * 3_600_000, maxBytes: c.DLQ_MAX_BYTES };
}

/**
 * The dead-letter stream's limits from `DLQ_MAX_AGE_HOURS` (default 720) and `DLQ_MAX_BYTES`
 * (default 1 GiB), as the services read them: what an operator provisions the stream with. A bad
 * value throws `OutboxError` `BAD_CONFIG` naming the variable.
 */
export function deadLetterLimitsOf(env: Record<string, string | undefined>): DeadLetterLimits {
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  return deadLettersOf(parseOrThrow(deadLetterShape(), set));
}

/** One identity: a seed, or a user with its password; both, or half of the second, is an error. */
function natsCredentialsOf(c: {
  NATS_NKEY_SEED?: string;
  NATS_USER?: string;
  NATS_PASSWORD?: string;
}): NatsCredentials | undefined {
  if (c.NATS_NKEY_SEED !== undefined) {
    if (c.NATS_USER !== undefined)
      throw new OutboxError("BAD_CONFIG", "NATS_NKEY_SEED: NATS_USER is set too; set one identity");
    return { kind: "nkey", seed: c.NATS_NKEY_SEED };
  }
  if (c.NATS_USER === undefined && c.NATS_PASSWORD === undefined) return undefined;
  if (c.NATS_USER === undefined)
    throw new OutboxError("BAD_CONFIG", "NATS_PASSWORD: set NATS_USER with it (or NATS_NKEY_SEED instead)");
  if (c.NATS_PASSWORD === undefined)
    throw new OutboxError("BAD_CONFIG", "NATS_USER: set NATS_PASSWORD with it");
  return { kind: "user", user: c.NATS_USER, password: c.NATS_PASSWORD };
}

/** NATS_TLS_CERT and NATS_TLS_KEY go together; every file named must be readable. */
export function natsTlsOf(c: {
  NATS_TLS_CA?: string;
  NATS_TLS_CERT?: string;
  NATS_TLS_KEY?: string;
}): NatsTlsFiles | undefined {
  if (c.NATS_TLS_CERT !== undefined && c.NATS_TLS_KEY === undefined)
    throw new OutboxError("BAD_CONFIG", "NATS_TLS_CERT: set NATS_TLS_KEY with it");
  if (c.NATS_TLS_KEY !== undefined && c.NATS_TLS_CERT === undefined)
    throw new OutboxError("BAD_CONFIG", "NATS_TLS_KEY: set NATS_TLS_CERT with it");
  const files = { NATS_TLS_CA: c.NATS_TLS_CA, NATS_TLS_CERT: c.NATS_TLS_CERT, NATS_TLS_KEY: c.NATS_TLS_KEY };
  for (const [name, file] of Object.entries(files)) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      throw new OutboxError(
        "BAD_CONFIG",
        `${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  if (c.NATS_TLS_CA === undefined && c.NATS_TLS_CERT === undefined) return undefined;
  return {
    ...(c.NATS_TLS_CA !== undefined ? { caFile: c.NATS_TLS_CA } : {}),
    ...(c.NATS_TLS_CERT !== undefined ? { certFile: c.NATS_TLS_CERT, keyFile: c.NATS_TLS_KEY } : {}),
  };
}

/**
 * The `<VAR>_FILE` convention of container secrets: for every variable of the shape, `<VAR>_FILE`
 * names a file whose content (less one trailing newline) is the value. Setting both is an error, as is
 * a file that cannot be read; the message names the variable, never the value.
 */
function withFileValues(env: Record<string, string | undefined>, names: readonly string[]) {
  const out = { ...env };
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (file === undefined || names.includes(`${name}_FILE`)) continue;
    if (env[name] !== undefined)
      throw new OutboxError("BAD_CONFIG", `${name}_FILE: ${name} is set too; set one of them`);
    let value: string;
    try {
      value = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw new OutboxError(
        "BAD_CONFIG",
        `${name}_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    if (value !== "") out[name] = value;
    delete out[`${name}_FILE`];
  }
  return out;
}

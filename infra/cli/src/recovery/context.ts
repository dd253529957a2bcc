import { readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mergeCatalogs, streamNameOf, type AnyCatalog } from "@orderflow/events";
import {
  baseConfigShape,
  natsServers,
  natsTlsOf,
  parseConfig,
  serviceSource,
  type BaseConfig,
  type NatsTlsFiles,
} from "@orderflow/host";
import { isOutboxError, openDatabase, Topology, type AnyDb, type RebuildOptions } from "@orderflow/outbox";
import { z } from "zod";
import { CliError, oneLine, redact } from "../errors.js";
import {
  isAuthorizationError,
  operatorConnectOptions,
  operatorSeedFromEnv,
  OPERATOR_SEED_VAR,
} from "../nats-operator.js";
import {
  CREDENTIALS_FILE,
  isNatsIdentity,
  NATS_OPERATOR_ENTRY,
  readCredentials,
  type NatsIdentity,
} from "../runner/credentials-file.js";
import { isAlive } from "../runner/pid-files.js";
import { OPERATOR_KEY, sameDatabase, serverOf } from "../runner/postgres-roles.js";
import { SERVERS_FILE } from "../runner/servers-file.js";
import { findDataDir } from "../system/find-config.js";
import { loadSystem, type AnyDefinition } from "../system/load-system.js";

export type { AnyDefinition };

/** Every event the system's services publish or consume: what dead letters decode with. */
export async function systemCatalog(): Promise<AnyCatalog> {
  return catalogOf((await loadSystem()).services.map((s) => s.definition));
}

/** Every event these services publish or consume. */
export const catalogOf = (defs: readonly AnyDefinition[]): AnyCatalog =>
  mergeCatalogs(...defs.flatMap((d) => [d.publishes, d.consumes ?? d.publishes]));

/** The definition of a service of the system (orderflow.config.ts); an unknown name is BAD_CONFIG. */
export async function loadService(name: string): Promise<AnyDefinition> {
  return (await loadSystem()).service(name).definition;
}

/** A service's database, opened as its host opens it (see `parseConfig` for the URL). */
export const openServiceDatabase = (config: BaseConfig): AnyDb =>
  openDatabase({
    connectionString: config.databaseUrl,
    preparedStatements: config.preparedStatements,
    connectTimeoutMs: 5000,
  });

type ServiceRebuild = Pick<
  RebuildOptions,
  "migrations" | "service" | "source" | "stream" | "apply" | "catalog"
>;

/**
 * What `rebuildDatabase` needs to know of a service: its migrations, catalog and projection; a
 * service without a projection is BAD_CONFIG, naming those of the system that have one.
 */
export async function rebuildOptions(def: AnyDefinition): Promise<ServiceRebuild> {
  const projection = def.projection;
  if (!projection) {
    const can = (await loadSystem()).services.filter((s) => s.definition.projection).map((s) => s.name);
    throw new CliError(
      "BAD_CONFIG",
      `service ${def.name} cannot be rebuilt from its events (${can.length ? `${new Intl.ListFormat("en").format(can)} can` : "no service of this system can"})`,
    );
  }
  return {
    catalog: def.publishes,
    migrations: def.migrations,
    service: def.name,
    source: serviceSource(def),
    stream: streamNameOf(projection.context),
    apply: projection.apply,
  };
}

const envShape = z.object({
  NATS_URL: baseConfigShape.NATS_URL,
  DATABASE_URL: baseConfigShape.DATABASE_URL,
  NATS_NAMESPACE: baseConfigShape.NATS_NAMESPACE,
});

export interface Broker {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly serverUrl: string;
  readonly env: Record<string, string | undefined>;
  /** credentials.json's `postgres` section of the system's data dir (see `serviceConfig`); `{}` without one. */
  readonly postgres: Readonly<Record<string, string>>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** An `orderflow up` running on the system's `.data` (or `ORDERFLOW_DATA_DIR`): its data dir and servers. */
interface RunningSystem {
  readonly dataDir: string;
  readonly natsUrl: string | undefined;
  readonly databaseUrl: string | undefined;
  /** `orderflow up --tls`: the operator's TLS files for its nats-server. */
  readonly natsTls: NatsTlsFiles | undefined;
}

function runningSystem(env: Record<string, string | undefined>): RunningSystem | undefined {
  const dir = env.ORDERFLOW_DATA_DIR || findDataDir({ env });
  if (!dir) return undefined;
  let found: { pid?: unknown; natsUrl?: unknown; databaseUrl?: unknown; natsTls?: unknown };
  try {
    found = JSON.parse(readFileSync(join(dir, SERVERS_FILE), "utf8")) as typeof found;
  } catch {
    return undefined;
  }
  if (typeof found.pid !== "number" || !isAlive(found.pid)) return undefined;
  return {
    dataDir: dir,
    natsUrl: typeof found.natsUrl === "string" ? found.natsUrl : undefined,
    databaseUrl: typeof found.databaseUrl === "string" ? found.databaseUrl : undefined,
    natsTls: isTlsFiles(found.natsTls) ? found.natsTls : undefined,
  };
}

function isTlsFiles(value: unknown): value is NatsTlsFiles {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return ["caFile", "certFile", "keyFile"].every((k) => typeof v[k] === "string");
}

/**
 * The operator's NATS TLS files: NATS_TLS_CA / NATS_TLS_CERT / NATS_TLS_KEY, else, when `natsUrl` is
 * the nats-server of a running `orderflow up --tls`, the operator's certificate it made; else none.
 */
export function operatorTls(
  env: Record<string, string | undefined>,
  natsUrl: string,
): NatsTlsFiles | undefined {
  let given: NatsTlsFiles | undefined;
  try {
    given = natsTlsOf(env);
  } catch (err) {
    if (isOutboxError(err)) throw new CliError("BAD_CONFIG", err.message, { cause: err });
    throw err;
  }
  if (given) return given;
  const running = runningSystem(env);
  return running?.natsUrl === natsUrl ? running.natsTls : undefined;
}

/**
 * The servers of an `orderflow up` running on the system's `.data` (or `ORDERFLOW_DATA_DIR`),
 * for whichever of NATS_URL / DATABASE_URL is not set: without it, `npx orderflow` beside a plain
 * `npm start` would look for NATS and PostgreSQL on their default ports, where they are not.
 */
export function runningSystemEnv(env: Record<string, string | undefined>): Record<string, string> {
  if (env.NATS_URL && env.DATABASE_URL) return {};
  const running = runningSystem(env);
  if (!running) return {};
  const out: Record<string, string> = {};
  if (!env.NATS_URL && running.natsUrl) out.NATS_URL = running.natsUrl;
  if (!env.DATABASE_URL && running.databaseUrl) out.DATABASE_URL = running.databaseUrl;
  return out;
}

/**
 * The operator's NATS identity and where it came from: `ORDERFLOW_NATS_NKEY_SEED` (or its `_FILE`), else,
 * when `natsUrl` is the nats-server of a running `orderflow up`, the one it keeps in its
 * `credentials.json` (`nats.operator`); else undefined (anonymous).
 */
export function operatorIdentity(
  env: Record<string, string | undefined>,
  natsUrl: string,
): { readonly identity: NatsIdentity; readonly from: string } | undefined {
  const given = operatorSeedFromEnv(env);
  if (given !== undefined) return { identity: { nkeySeed: given }, from: OPERATOR_SEED_VAR };
  const running = runningSystem(env);
  if (!running || running.natsUrl !== natsUrl) return undefined;
  const file = join(running.dataDir, CREDENTIALS_FILE);
  let identity: unknown;
  try {
    identity = readCredentials(running.dataDir).nats?.[NATS_OPERATOR_ENTRY];
  } catch {
    return undefined;
  }
  return isNatsIdentity(identity) ? { identity, from: `${file} (nats.${NATS_OPERATOR_ENTRY})` } : undefined;
}

/**
 * Connects to the system's NATS as the operator, from the same environment variables the services
 * read (or, where they are unset, the servers of a running `orderflow up`): with the operator's
 * inbox prefix and, when there is one (see `operatorIdentity`), its key.
 */
export async function broker(env: Record<string, string | undefined> = process.env): Promise<Broker> {
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const cleaned = { ...given, ...runningSystemEnv(given) };
  const parsed = envShape.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError("BAD_CONFIG", `${String(issue.path[0])}: ${issue.message}`);
  }
  const url = parsed.data.NATS_URL;
  const operator = operatorIdentity(given, url);
  const tls = operatorTls(given, url);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: natsServers(parsed.data.NATS_URL),
      timeout: 3000,
      noAsyncTraces: true,
      ...operatorConnectOptions(operator?.identity, parsed.data.NATS_NAMESPACE),
      ...(tls ? { tls: { ...tls } } : {}),
    });
  } catch (err) {
    if (isAuthorizationError(err))
      throw new CliError(
        "BAD_CONFIG",
        operator
          ? `${operator.from}: ${url} refused the operator's key: ${oneLine(err)}`
          : `${OPERATOR_SEED_VAR}: ${url} refuses anonymous connections; set it to the operator's NKey seed (${oneLine(err)})`,
      );
    throw new CliError("NOT_RUNNING", `NATS_URL: cannot reach ${url}: ${oneLine(err)}`);
  }
  return {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    topology: new Topology(parsed.data.NATS_NAMESPACE),
    serverUrl: parsed.data.DATABASE_URL,
    env: cleaned,
    postgres: keptPostgresCredentials(cleaned),
    async [Symbol.asyncDispose]() {
      await nc.close();
    },
  };
}

/**
 * The `postgres` section of credentials.json in the system's data dir (`ORDERFLOW_DATA_DIR`, or `.data`
 * beside the config): the roles `orderflow up` set up. `{}` when there is none (or it cannot be read).
 */
function keptPostgresCredentials(env: Record<string, string | undefined>): Record<string, string> {
  const dir = env.ORDERFLOW_DATA_DIR || findDataDir({ env });
  if (!dir) return {};
  try {
    const section = readCredentials(dir).postgres ?? {};
    return Object.fromEntries(Object.entries(section).filter(([, v]) => typeof v === "string"));
  } catch {
    return {};
  }
}

export interface ServiceDatabase {
  /** As the service's host parses it from the CLI's environment, with the service's own role where kept. */
  readonly config: BaseConfig;
  /** Where its URL comes from, for messages: credentials.json, or the variable to fix. */
  readonly variable: string | undefined;
  /**
   * With the service's own role: the operator role's URL kept for the same server (else the
   * environment's), what `rebuild` drops and creates with; undefined otherwise.
   */
  readonly operatorUrl: string | undefined;
}

/**
 * A service's database as the CLI opens it: the database its environment names (`DATABASE_URL` or
 * `<NAME>_DATABASE_URL`, or the running `orderflow up`'s server), as the service's own role when
 * credentials.json holds one for that database on that server (set up by `orderflow up`); else with the
 * environment's user, as before.
 */
export function serviceConfig(
  b: Pick<Broker, "env" | "postgres">,
  definition: Parameters<typeof parseConfig>[1],
): ServiceDatabase {
  const config = parseConfig(b.env, definition);
  const kept = b.postgres[definition.name];
  const operator = b.postgres[OPERATOR_KEY];
  const same = (a: string | undefined, check: (url: string) => boolean) => {
    try {
      return a !== undefined && check(a);
    } catch {
      return false;
    }
  };
  if (!same(kept, (url) => sameDatabase(url, config.databaseUrl)))
    return { config, variable: undefined, operatorUrl: undefined };
  return {
    config: { ...config, databaseUrl: kept! },
    variable: `credentials.json postgres.${definition.name}`,
    // Without an operator kept for that server, the environment's user (the server's admin).
    operatorUrl: same(operator, (url) => serverOf(url) === serverOf(kept!)) ? operator : config.databaseUrl,
  };
}

export async function assertStream(b: Broker, stream: string): Promise<void> {
  const ok = await b.jsm.streams.info(stream).then(
    () => true,
    () => false,
  );
  if (!ok) throw new CliError("BAD_CONFIG", `unknown stream "${stream}"`);
}

/**
 * Runs `work`; the runtime saying that the input names nothing (an unknown stream, consumer or dead
 * letter, a sequence outside the stream; a running instance working on another database than the
 * one the command was given) becomes one line and exit 2.
 */
export async function asBadInput<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (
      isOutboxError(err) &&
      (err.code === "NOT_FOUND" || err.code === "OUT_OF_RANGE" || err.code === "CONTROL_REFUSED")
    )
      throw new CliError("BAD_CONFIG", err.message, { cause: err });
    throw err;
  }
}

/** The variable a service's database URL comes from, named the way the user can fix it. */
export function databaseVariable(service: string, env: Record<string, string | undefined>): string {
  const own = `${service.toUpperCase()}_DATABASE_URL`;
  return env[own] ? own : `DATABASE_URL (or ${own})`;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
]);
// What a server answers a connection with when it will not take it: bad credentials (28…), no such
// database, starting up or shutting down, too many connections.
const REFUSED = /^(28|3D000$|57P03$|53300$)/;
const DROPPED = /^(Connection terminated|timeout exceeded when trying to connect)/;

/** Whether `err` is a failure to connect to PostgreSQL rather than an error of the work itself. */
export function isConnectError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (UNREACHABLE.has(code) || REFUSED.test(code))) return true;
  return DROPPED.test(err.message);
}

/**
 * Runs `work` against a service's database; a failure to connect becomes one line naming the
 * variable to fix (exit 2), as an unreachable NATS does.
 */
export async function withDatabase<T>(
  target: {
    service: string;
    env: Record<string, string | undefined>;
    url: string;
    /** Where the URL comes from, when not from the environment. */
    variable?: string | undefined;
  },
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isConnectError(err)) throw err;
    // A refused connection to `localhost` (several addresses) is an AggregateError without a message.
    const why = oneLine(err) === "AggregateError" ? String((err as { code?: unknown }).code) : oneLine(err);
    throw new CliError(
      "NOT_RUNNING",
      `${target.variable ?? databaseVariable(target.service, target.env)}: cannot reach ${redact(target.url)}: ${why}`,
      { cause: err },
    );
  }
}

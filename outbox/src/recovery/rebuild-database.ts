import type { AnyCatalog } from "@orderflow/events";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { AnyCloudEvent as CloudEvent } from "@orderflow/events";
import { sql, type Migration } from "kysely";
import pg from "pg";
import { INBOX_TABLE, migrate, OUTBOX_TABLE } from "../migrations.js";
import { Topology } from "../topology.js";
import type { AnyDb, AnyTransaction } from "../types.js";
import { OutboxError } from "../errors.js";
import { databaseName, openDatabase } from "./open-database.js";
import { readStream } from "./read-stream.js";
import { requestControl } from "./request-control.js";

export interface RebuildOptions {
  /**
   * The service's database: dropped, recreated (from its server's `postgres` database) and migrated,
   * and its events folded into it, connected as this URL's user.
   */
  readonly connectionString: string;
  /**
   * Drop and create the database through this server (its `postgres` database) as another role than
   * the service's: e.g. an operator role with CREATEDB that is a member of the service's role. The
   * old database is dropped as its owner (`SET ROLE` to it unless this role is a superuser or the
   * owner); the new one is owned by `connectionString`'s user, and only it may connect (CONNECT and
   * TEMPORARY revoked from PUBLIC). Default: `connectionString`'s user does both, as its owner.
   */
  readonly adminConnectionString?: string;
  /** The service's migrations (the runtime's own run first). */
  readonly migrations?: Record<string, Migration>;
  /** The service: the inbox consumer its events' causes are recorded for, and the name it answers control requests on. */
  readonly service: string;
  /** `ce-source` of the service's own events: only those are folded. */
  readonly source: string;
  /** Catalog name of the stream the service publishes to (INVENTORY…). */
  readonly stream: string;
  /** The projection: applies one of the service's own events to its state. */
  readonly apply: (trx: AnyTransaction, event: CloudEvent) => Promise<void>;
  readonly js: Pick<JetStreamClient, "consumers">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  readonly topology?: Topology;
  /** When given, a running instance is paused (stops consuming, drains its outbox) around the rebuild, then resumed. */
  readonly nc?: Pick<NatsConnection, "request">;
  /** As `openDatabase` (default true). */
  readonly preparedStatements?: boolean;
  /** The service's own events: what its stream decodes with. */
  readonly catalog: AnyCatalog;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RebuildResult {
  /** Messages read from the stream. */
  readonly events: number;
  /** Of those, the service's own events folded into the new database. */
  readonly applied: number;
  /** Whether a running instance was paused and resumed around the rebuild. */
  readonly coordinated: boolean;
  readonly ms: number;
}

const BATCH = 500;

/**
 * Rebuilds a service's database from the events it published: its state is the fold of its own
 * events (operator changes included), so applying them in stream order reproduces it exactly —
 * unlike re-running its inputs, whose decisions could differ on another interleaving. Nothing is
 * emitted: the events are recorded in the new outbox as already published, and their causes in the
 * inbox, so a later redelivery of an input that was already handled is skipped.
 * @example
 * await rebuildDatabase({ connectionString, migrations, service: "inventory", source: "/orderflow/inventory",
 *   stream: "INVENTORY", apply: projectInventory, js, jsm, nc });
 */
export async function rebuildDatabase(opts: RebuildOptions): Promise<RebuildResult> {
  const started = Date.now();
  const topology = opts.topology ?? new Topology();
  const stream = topology.stream(opts.stream);
  const { state } = await opts.jsm.streams.info(stream);
  // Connecting first: an unreachable server fails before a running instance is paused.
  const admin = await connectToServer(opts.adminConnectionString ?? opts.connectionString);
  // Another role drops and creates: the service's own credentials must work before anything is dropped.
  if (opts.adminConnectionString)
    await assertCanLogIn(opts.connectionString).catch(async (err: unknown) => {
      await admin.end().catch(() => {});
      throw err;
    });
  let coordinated = false;
  try {
    if (opts.nc) {
      const answer = await requestControl(
        opts.nc,
        topology,
        opts.service,
        "pause",
        databaseName(opts.connectionString),
      );
      if (answer !== "paused" && answer !== "not running")
        throw new OutboxError("CONTROL_REFUSED", `the running ${opts.service} did not pause: ${answer}`);
      coordinated = answer === "paused";
    }
    if (opts.adminConnectionString) await recreateAsOperator(admin, opts.connectionString);
    else await recreate(admin, opts.connectionString);
    await using db = openDatabase({
      connectionString: opts.connectionString,
      max: 2,
      preparedStatements: opts.preparedStatements ?? true,
    });
    await migrate(db, opts.migrations);
    // The new inbox holds only the causes of the folded events: whether an older input was applied
    // cannot be told from it, so replay must not re-apply anything from before now.
    await sql`INSERT INTO orderflow_retention (name, pruned_before) VALUES ('inbox', now())`.execute(db);
    let events = 0;
    let applied = 0;
    let batch: JsMsg[] = [];
    const flush = async () => {
      applied += await fold(db, opts, topology, batch);
      batch = [];
      opts.onProgress?.(events, state.messages);
    };
    await readStream({ js: opts.js, jsm: opts.jsm, stream }, async (m) => {
      batch.push(m);
      events++;
      if (batch.length >= BATCH) await flush();
    });
    await flush();
    return { events, applied, coordinated, ms: Date.now() - started };
  } finally {
    await admin.end().catch(() => {});
    if (coordinated && opts.nc) await requestControl(opts.nc, topology, opts.service, "resume");
  }
}

/** Folds one batch in one transaction; returns how many of its messages were the service's own events. */
async function fold(
  db: AnyDb,
  opts: RebuildOptions,
  topology: Topology,
  msgs: readonly JsMsg[],
): Promise<number> {
  const decode = opts.catalog.decode;
  return db.transaction().execute(async (trx) => {
    const published: Record<string, unknown>[] = [];
    const causes: { consumer: string; event_id: string }[] = [];
    for (const m of msgs) {
      const decoded = decode({ subject: m.subject, headers: m.headers, data: m.data });
      if (!decoded.ok || decoded.event.source !== opts.source) continue;
      const e = decoded.event;
      await opts.apply(trx, e);
      const headers: Record<string, string> = {};
      for (const [k, vs] of m.headers ?? []) headers[k] = vs[0] ?? "";
      published.push({
        event_id: e.id,
        subject: topology.unprefix(m.subject),
        headers: JSON.stringify(headers),
        payload: Buffer.from(m.data),
        published_at: sql`now()`,
      });
      if (e.causationId) causes.push({ consumer: opts.service, event_id: e.causationId });
    }
    if (published.length)
      await trx
        .insertInto(OUTBOX_TABLE)
        .values(published)
        .onConflict((oc) => oc.column("event_id").doNothing())
        .execute();
    if (causes.length)
      await trx
        .insertInto(INBOX_TABLE)
        .values(causes)
        .onConflict((oc) => oc.doNothing())
        .execute();
    return published.length;
  });
}

/** A connection to the `postgres` database of the server holding `databaseUrl`. */
async function connectToServer(databaseUrl: string): Promise<pg.Client> {
  const url = new URL(databaseUrl);
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

async function recreate(admin: pg.Client, databaseUrl: string): Promise<void> {
  const name = admin.escapeIdentifier(databaseName(databaseUrl));
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
}

/** Drop as the old database's owner, create owned by the service's user, and let only it connect. */
async function recreateAsOperator(admin: pg.Client, databaseUrl: string): Promise<void> {
  const database = databaseName(databaseUrl);
  const owner = decodeURIComponent(new URL(databaseUrl).username);
  if (!owner)
    throw new OutboxError(
      "BAD_CONFIG",
      "rebuildDatabase: with adminConnectionString, connectionString must name its user (the new owner)",
    );
  const name = admin.escapeIdentifier(database);
  const { rows } = await admin.query<{ owner: string | null; superuser: boolean }>(
    `SELECT (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1) AS owner,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    [database],
  );
  const { owner: previous, superuser } = rows[0]!;
  const asRole = async (role: string, statement: string) => {
    if (!superuser) await admin.query(`SET ROLE ${admin.escapeIdentifier(role)}`);
    try {
      await admin.query(statement);
    } finally {
      if (!superuser) await admin.query("RESET ROLE");
    }
  };
  if (previous !== null) await asRole(previous, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name} OWNER ${admin.escapeIdentifier(owner)}`);
  await asRole(owner, `REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
  await asRole(owner, `GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO ${admin.escapeIdentifier(owner)}`);
}

/** Fails when the server refuses `url`'s credentials (28…); a missing database is fine, it is being rebuilt. */
async function assertCanLogIn(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    if (/^28/.test(String((err as { code?: unknown }).code))) throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

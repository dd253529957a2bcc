/**
 * PostgreSQL roles of a system: who may touch which service's database.
 *
 * - **One login role per service database**, named `<database>_owner` (database names are unique on a
 *   server, so these are too, however many systems and test runs share it; a name that would exceed
 *   PostgreSQL's 63 bytes is cut and made unique with a hash). It has a random password, no other
 *   attribute (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS), and owns its database,
 *   hence (PostgreSQL 15+) its `public` schema, owned by `pg_database_owner`, and everything the
 *   service's migrations create, since the service migrates as that role. `CONNECT` and `TEMPORARY` on the
 *   database are revoked from PUBLIC and granted to the owner: no other role but a superuser can even
 *   connect to it. The role is commented `orderflow: owner of database <db>`; an existing role of that
 *   name without the comment is someone else's, and is never taken over.
 * - **One operator role per system** (the CLI's `rebuild`), `orderflow_operator_<hash of the system's
 *   database names>`: LOGIN, CREATEDB, NOINHERIT, and a member of every service role of the system,
 *   nothing else (NOSUPERUSER NOCREATEROLE). Membership lets it `DROP DATABASE` a service's database
 *   (after `SET ROLE` to its owner) and `CREATE DATABASE … OWNER <service role>`; NOINHERIT means it has
 *   none of their privileges as itself: it cannot connect to a service's database nor read its tables
 *   without first `SET ROLE` to that service's role. It could do so (and grant itself CONNECT), so it is
 *   trusted like every service together; it cannot touch any other database or role.
 *
 * PostgreSQL checks privileges whatever the authentication: on a server with `trust` auth (the dev
 * machines' 127.0.0.1:5432) passwords are not checked, so any client may claim any role, but a role is
 * still refused what it has no privilege on.
 */
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";

/** The credentials.json `postgres` key of the operator: `@` is never in a service name (`[a-z][a-z0-9_]*`). */
export const OPERATOR_KEY = "@operator";

const MAX_IDENT = 63;

const shortHash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 8);

/** `<database>_owner`, or, past 63 bytes, its first 48 bytes, a hash of the whole and `_owner`. */
export function ownerRoleName(database: string): string {
  const name = `${database}_owner`;
  if (Buffer.byteLength(name) <= MAX_IDENT) return name;
  return `${Buffer.from(database)
    .subarray(0, 48)
    .toString("utf8")
    .replace(/\uFFFD+$/, "")}_${shortHash(database)}_owner`;
}

/** `orderflow_operator_<8 hex>`: one per set of databases, so systems sharing a server never share it. */
export function operatorRoleName(databases: readonly string[]): string {
  return `orderflow_operator_${shortHash([...databases].sort().join("\n"))}`;
}

export const ownerComment = (database: string) => `orderflow: owner of database ${database}`;
export const OPERATOR_COMMENT = "orderflow: operator";

/** A password for a role: 24 random bytes, base64url (safe in a URL as it is). */
export const newPassword = (): string => randomBytes(24).toString("base64url");

/** `url` with its user, password and database replaced. */
export function roleUrl(url: string, role: string, password: string, database: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(password);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export interface AdminRights {
  readonly user: string;
  readonly superuser: boolean;
  /** Superuser, or CREATEROLE and CREATEDB: enough to create the roles and their databases. */
  readonly canManageRoles: boolean;
}

export async function adminRights(admin: pg.Client): Promise<AdminRights> {
  const { rows } = await admin.query<{
    user: string;
    rolsuper: boolean;
    rolcreaterole: boolean;
    rolcreatedb: boolean;
  }>(
    "SELECT current_user AS user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
  );
  const r = rows[0]!;
  return {
    user: r.user,
    superuser: r.rolsuper,
    canManageRoles: r.rolsuper || (r.rolcreaterole && r.rolcreatedb),
  };
}

const DUPLICATE = new Set(["42710", "42P04", "23505"]);
const isDuplicate = (err: unknown) => DUPLICATE.has(String((err as { code?: unknown }).code));

async function roleComment(admin: pg.Client, role: string): Promise<string | null | undefined> {
  const { rows } = await admin.query<{ comment: string | null }>(
    "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
    [role],
  );
  return rows.length ? rows[0]!.comment : undefined;
}

/**
 * Creates role `role` (or takes it back to what it must be, with `password`), creates database
 * `database` owned by it (or hands it and every object in it over), and lets only it connect.
 * Idempotent. `admin` is connected to the server's `postgres` database; `adminUrl` is its URL (to
 * connect to the service's database when it existed already).
 */
export async function ensureServiceDatabase(
  admin: pg.Client,
  adminUrl: string,
  opts: { database: string; role: string; password: string },
): Promise<void> {
  const { database, role, password } = opts;
  const r = admin.escapeIdentifier(role);
  const db = admin.escapeIdentifier(database);
  const comment = await roleComment(admin, role);
  if (comment !== undefined && comment !== ownerComment(database))
    throw new Error(
      `role ${role} exists and is not Orderflow's (its comment is not "${ownerComment(database)}")`,
    );
  const attributes = "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
  if (comment === undefined) {
    await admin.query(`CREATE ROLE ${r} ${attributes}`).catch((err: unknown) => {
      if (!isDuplicate(err)) throw err;
    });
  }
  await admin.query(`ALTER ROLE ${r} ${attributes} PASSWORD ${admin.escapeLiteral(password)}`);
  await admin.query(`COMMENT ON ROLE ${r} IS ${admin.escapeLiteral(ownerComment(database))}`);
  const rights = await adminRights(admin);
  // A CREATEROLE admin must be a member to create a database owned by the role and hand objects over.
  if (!rights.superuser) await admin.query(`GRANT ${r} TO CURRENT_USER`);

  const { rows } = await admin.query<{ owner: string }>(
    "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
    [database],
  );
  let existed = rows.length > 0;
  if (!existed) {
    await admin.query(`CREATE DATABASE ${db} OWNER ${r}`).catch((err: unknown) => {
      if (!isDuplicate(err)) throw err;
      existed = true;
    });
  }
  if (existed) await admin.query(`ALTER DATABASE ${db} OWNER TO ${r}`);
  await admin.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
  await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${r}`);
  if (existed) await handOver(adminUrl, database, role);
}

/**
 * Everything in the database that its owner does not own (what a run before roles, or the admin,
 * created) is handed to it: schemas, tables, views, sequences, functions and types.
 */
async function handOver(adminUrl: string, database: string, role: string): Promise<void> {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  client.on("error", () => {});
  await client.connect();
  try {
    const owner = client.escapeLiteral(role);
    await client.query(`DO $$
DECLARE
  o text := ${owner};
  x record;
BEGIN
  FOR x IN SELECT nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND nspowner <> o::regrole
      AND nspowner <> 'pg_database_owner'::regrole
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', x.nspname, o);
  END LOOP;
  FOR x IN SELECT c.oid, c.relkind, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> o::regrole
      AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      -- a sequence owned by a column (serial, identity) follows its table
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO %I',
      CASE x.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
        WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, x.nspname, x.relname, o);
  END LOOP;
  FOR x IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proowner <> o::regrole AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', x.oid::regprocedure, o);
  END LOOP;
  FOR x IN SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typowner <> o::regrole AND t.typtype IN ('e', 'd', 'r', 'm')
      AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', x.oid::regtype, o);
  END LOOP;
END $$`);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Creates (or takes back to what it must be) the operator role `role`: LOGIN CREATEDB NOINHERIT, a
 * member of exactly `members` among Orderflow's roles. `previous`, an operator of an earlier set of
 * databases (a service added or removed), is dropped when it is Orderflow's.
 */
export async function ensureOperatorRole(
  admin: pg.Client,
  opts: { role: string; password: string; members: readonly string[]; previous?: string | undefined },
): Promise<void> {
  const { role, password, members } = opts;
  const r = admin.escapeIdentifier(role);
  const comment = await roleComment(admin, role);
  if (comment !== undefined && comment !== OPERATOR_COMMENT)
    throw new Error(`role ${role} exists and is not Orderflow's (its comment is not "${OPERATOR_COMMENT}")`);
  const attributes = "LOGIN NOINHERIT CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS";
  if (comment === undefined) {
    await admin.query(`CREATE ROLE ${r} ${attributes}`).catch((err: unknown) => {
      if (!isDuplicate(err)) throw err;
    });
  }
  await admin.query(`ALTER ROLE ${r} ${attributes} PASSWORD ${admin.escapeLiteral(password)}`);
  await admin.query(`COMMENT ON ROLE ${r} IS ${admin.escapeLiteral(OPERATOR_COMMENT)}`);
  for (const m of members) await admin.query(`GRANT ${admin.escapeIdentifier(m)} TO ${r}`);
  if (
    opts.previous &&
    opts.previous !== role &&
    (await roleComment(admin, opts.previous)) === OPERATOR_COMMENT
  )
    await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(opts.previous)}`);
}

/** A client on the `postgres` database of the server `url` points at. */
export async function connectAdmin(url: string): Promise<pg.Client> {
  const u = new URL(url);
  u.pathname = "/postgres";
  const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 5000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** `host:port` of a URL (5432 when it names none): which server it is. */
export function serverOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}`;
}

/** Whether two URLs name the same database on the same server (users aside). */
export function sameDatabase(a: string, b: string): boolean {
  return serverOf(a) === serverOf(b) && new URL(a).pathname === new URL(b).pathname;
}

/**
 * Trying to break in, against a real PostgreSQL: the machine's server when DATABASE_URL is set (15,
 * trust auth), else an embedded one (18, password auth). The roles are the runner's
 * (provisionDatabases), on databases named uniquely for this run.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseUrl, ensureDatabase, testPostgresServer } from "@orderflow/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCredentials } from "./credentials-file.js";
import { provisionDatabases } from "./ensure-databases.js";
import { OPERATOR_KEY, operatorRoleName, ownerRoleName } from "./postgres-roles.js";
import type { ServicePlan } from "./up-config.js";

const suffix = randomBytes(4).toString("hex");
const DB = { inventory: `roles_inventory_${suffix}`, billing: `roles_billing_${suffix}` };

const plan = (name: string, database: string): ServicePlan =>
  ({
    service: { name, main: "", definition: { name, database, defaultPort: 1 } },
    portVar: `${name.toUpperCase()}_PORT`,
    port: 1,
    databaseUrl: undefined,
  }) as unknown as ServicePlan;
const PLANS = [plan("inventory", DB.inventory), plan("billing", DB.billing)];

/** Runs `work` on a connection with `url`; resolves with its result or rejects with the server's error. */
async function as<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on("error", () => {});
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end().catch(() => {});
  }
}
const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      return typeof code === "string" ? code : (err as Error).message;
    },
  );
const withDb = (url: string, database: string) => databaseUrl(url, database);

describe("PostgreSQL roles of orderflow up", () => {
  let server: string;
  let dataDir: string;
  let urls: Map<string, string>;
  const warnings: string[] = [];
  const extraRoles: string[] = [];
  const extraDbs: string[] = [];

  beforeAll(async () => {
    server = (await testPostgresServer()).url;
    dataDir = mkdtempSync(join(tmpdir(), "orderflow-roles-"));
    // A database of a run before roles: a table owned by the server's admin.
    await ensureDatabase(server, DB.billing);
    await as(withDb(server, DB.billing), (c) =>
      c.query("CREATE TABLE accounts (id text PRIMARY KEY, cents int); INSERT INTO accounts VALUES ('a', 1)"),
    );
    urls = await provisionDatabases(PLANS, server, dataDir, (l) => warnings.push(l));
  }, 60_000);

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await as(server, async (c) => {
      for (const db of [...Object.values(DB), ...extraDbs])
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`);
      const roles = [
        operatorRoleName(Object.values(DB)),
        ...Object.values(DB).map(ownerRoleName),
        ...extraRoles,
      ];
      for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(r)}`);
    });
  }, 60_000);

  it("creates one login role per database, owning it, and keeps their URLs in credentials.json (0600)", async () => {
    expect(warnings).toEqual([]);
    const kept = readCredentials(dataDir).postgres!;
    expect(Object.keys(kept).sort()).toEqual([OPERATOR_KEY, "billing", "inventory"]);
    expect(statSync(join(dataDir, "credentials.json")).mode & 0o777).toBe(0o600);
    for (const [service, database] of Object.entries(DB)) {
      const url = new URL(kept[service]!);
      expect(url.username).toBe(`${database}_owner`);
      expect(url.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(url.pathname).toBe(`/${database}`);
      expect(urls.get(service)).toBe(kept[service]);
    }
    const { rows } = await as(server, (c) =>
      c.query<{ datname: string; owner: string; public_connect: boolean }>(
        `SELECT datname, pg_get_userbyid(datdba) AS owner, has_database_privilege('public', oid, 'CONNECT') AS public_connect
         FROM pg_database WHERE datname = ANY($1) ORDER BY datname`,
        [Object.values(DB)],
      ),
    );
    expect(rows).toEqual([
      { datname: DB.billing, owner: `${DB.billing}_owner`, public_connect: false },
      { datname: DB.inventory, owner: `${DB.inventory}_owner`, public_connect: false },
    ]);
  });

  it("a service role migrates its own database (PostgreSQL 15+: public belongs to the database owner) and uses what was there", async () => {
    await as(urls.get("inventory")!, async (c) => {
      await c.query("CREATE TABLE stock (sku text PRIMARY KEY, available int)");
      await c.query("INSERT INTO stock VALUES ('x', 1)");
      expect((await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'stock'")).rows).toEqual([
        { tableowner: `${DB.inventory}_owner` },
      ]);
    });
    // The table created before roles was handed over to the owner.
    await as(urls.get("billing")!, async (c) => {
      expect((await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'")).rows).toEqual([
        { tableowner: `${DB.billing}_owner` },
      ]);
      await c.query("UPDATE accounts SET cents = 2");
    });
  });

  it("inventory's role cannot connect to billing's database", async () => {
    const intruder = withDb(urls.get("inventory")!, DB.billing);
    expect(await codeOf(as(intruder, (c) => c.query("SELECT 1")))).toBe("42501");
  });

  it("inventory's role cannot read billing's tables even when allowed to connect", async () => {
    const role = `${DB.inventory}_owner`;
    await as(server, (c) => c.query(`GRANT CONNECT ON DATABASE ${DB.billing} TO ${role}`));
    try {
      const intruder = withDb(urls.get("inventory")!, DB.billing);
      expect(await codeOf(as(intruder, (c) => c.query("SELECT * FROM accounts")))).toBe("42501");
      expect(await codeOf(as(intruder, (c) => c.query("CREATE TABLE planted (x int)")))).toBe("42501");
    } finally {
      await as(server, (c) => c.query(`REVOKE CONNECT ON DATABASE ${DB.billing} FROM ${role}`));
    }
  });

  it("a service role is no superuser and can create neither a database nor a role, nor take another's", async () => {
    const url = urls.get("inventory")!;
    await as(url, async (c) => {
      const { rows } = await c.query<Record<string, boolean>>(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user",
      );
      expect(rows).toEqual([
        {
          rolsuper: false,
          rolcreatedb: false,
          rolcreaterole: false,
          rolreplication: false,
          rolbypassrls: false,
        },
      ]);
      expect(await codeOf(c.query(`CREATE DATABASE roles_planted_${suffix}`))).toBe("42501");
      expect(await codeOf(c.query(`CREATE ROLE roles_planted_${suffix}`))).toBe("42501");
      expect(await codeOf(c.query(`SET ROLE ${DB.billing}_owner`))).toBe("42501");
      expect(await codeOf(c.query(`DROP DATABASE ${DB.billing}`))).toBe("42501");
    });
  });

  it("the operator creates and drops service databases (as their owner) and nothing else; it cannot read them as itself", async () => {
    const operator = readCredentials(dataDir).postgres![OPERATOR_KEY]!;
    expect(new URL(operator).username).toBe(operatorRoleName(Object.values(DB)));
    const owner = `${DB.inventory}_owner`;
    // NOINHERIT: it holds none of the service roles' privileges without SET ROLE, not even CONNECT.
    expect(await codeOf(as(withDb(operator, DB.billing), (c) => c.query("SELECT 1")))).toBe("42501");
    await as(operator, async (c) => {
      const { rows } = await c.query<Record<string, boolean>>(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit FROM pg_roles WHERE rolname = current_user",
      );
      expect(rows).toEqual([{ rolsuper: false, rolcreatedb: true, rolcreaterole: false, rolinherit: false }]);
      expect(await codeOf(c.query(`CREATE ROLE roles_planted_${suffix}`))).toBe("42501");
      // Not the owner as itself…
      expect(await codeOf(c.query(`DROP DATABASE ${DB.inventory}`))).toBe("42501");
      // …but it may act as one: drop and recreate a service's database owned by its role.
      await c.query(`SET ROLE ${owner}`);
      await c.query(`DROP DATABASE ${DB.inventory} WITH (FORCE)`);
      await c.query("RESET ROLE");
      await c.query(`CREATE DATABASE ${DB.inventory} OWNER ${owner}`);
      // No other role: not the server's admin, not a role of another system.
      expect(await codeOf(c.query("SET ROLE postgres"))).toBe("42501");
    });
    // A database that is not a service's (the admin's) cannot be dropped by it.
    const other = `roles_other_${suffix}`;
    extraDbs.push(other);
    await ensureDatabase(server, other);
    expect(await codeOf(as(operator, (c) => c.query(`DROP DATABASE ${other}`)))).toBe("42501");
  });

  it("is idempotent and keeps passwords; without its credentials.json entries it sets new ones", async () => {
    const secrets = async () =>
      (
        await as(server, (c) =>
          c.query<{ rolname: string; rolpassword: string }>(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname",
            [[...Object.values(DB).map(ownerRoleName), operatorRoleName(Object.values(DB))]],
          ),
        )
      ).rows;
    const before = readCredentials(dataDir).postgres;
    const hashes = await secrets();
    expect(hashes).toHaveLength(3);
    const again = await provisionDatabases(PLANS, server, dataDir, (l) => warnings.push(l));
    expect(readCredentials(dataDir).postgres).toEqual(before);
    expect(Object.fromEntries(again)).toEqual({ inventory: before!.inventory, billing: before!.billing });

    // Rotation: the entries deleted, the next start sets new passwords on the same roles.
    const { writeCredentials } = await import("./credentials-file.js");
    writeCredentials(dataDir, { postgres: {} });
    await provisionDatabases(PLANS, server, dataDir, (l) => warnings.push(l));
    const after = readCredentials(dataDir).postgres!;
    for (const key of ["inventory", "billing", OPERATOR_KEY]) {
      expect(new URL(after[key]!).username).toBe(new URL(before![key]!).username);
      expect(after[key]).not.toBe(before![key]);
    }
    const rotated = await secrets();
    for (let i = 0; i < hashes.length; i++) expect(rotated[i]!.rolpassword).not.toBe(hashes[i]!.rolpassword);
    // The services' data stays where it was.
    await as(after.billing!, async (c) =>
      expect((await c.query("SELECT cents FROM accounts")).rows).toEqual([{ cents: 2 }]),
    );
    expect(warnings).toEqual([]);
  });

  it("passwords are checked where the server asks for them (not on a trust server)", async () => {
    const trust = await as(server, async (c) => {
      const { rows } = await c.query<{ auth_method: string }>(
        "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = '127.0.0.1' ORDER BY line_number LIMIT 1",
      );
      return rows[0]?.auth_method === "trust";
    }).catch(() => true);
    const wrong = new URL(urls.get("inventory")!);
    wrong.password = "not-the-password";
    const result = await codeOf(as(wrong.toString(), (c) => c.query("SELECT 1")));
    expect(result).toBe(trust ? "ok" : "28P01");
  });

  it("never takes over a role of the same name that is not Orderflow's", async () => {
    const database = `roles_taken_${suffix}`;
    extraDbs.push(database);
    extraRoles.push(ownerRoleName(database));
    await as(server, (c) => c.query(`CREATE ROLE ${ownerRoleName(database)} LOGIN SUPERUSER`));
    const dir = mkdtempSync(join(tmpdir(), "orderflow-roles-"));
    try {
      await expect(provisionDatabases([plan("shipping", database)], server, dir, () => {})).rejects.toThrow(
        /role roles_taken_\w+_owner exists and is not Orderflow's/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a server user that may not create roles: the databases as before, and one warning", async () => {
    const user = `roles_plain_${suffix}`;
    const database = `roles_plain_db_${suffix}`;
    extraRoles.push(user);
    extraDbs.push(database);
    await as(server, (c) => c.query(`CREATE ROLE ${user} LOGIN CREATEDB PASSWORD 'plain-password'`));
    const plainServer = new URL(server);
    plainServer.username = user;
    plainServer.password = "plain-password";
    const dir = mkdtempSync(join(tmpdir(), "orderflow-roles-"));
    const lines: string[] = [];
    try {
      const got = await provisionDatabases([plan("shipping", database)], plainServer.toString(), dir, (l) =>
        lines.push(l),
      );
      expect(got.size).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/may not create roles .*: shipping connect as that user/);
      expect(lines[0]).not.toContain("plain-password");
      const owner = await as(server, (c) =>
        c.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [database]),
      );
      expect(owner.rows).toEqual([{ owner: user }]);
      expect(readCredentials(dir).postgres).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

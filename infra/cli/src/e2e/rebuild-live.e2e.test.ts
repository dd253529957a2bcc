/**
 * The recovery issue's acceptance test, as a user runs it: the whole system under `orderflow up`
 * (the bin, four real service processes), then `orderflow rebuild <service> --yes` for each of the
 * four services through the bin against it. The runner gives each service a
 * role of its own; the CLI finds them in credentials.json and rebuilds with the operator role.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  dropDatabase,
  ensureDatabase,
  freePort,
  testNats,
  testPostgresServer,
  waitFor,
} from "@orderflow/testing";
import { openDatabase, outboxStatus } from "@orderflow/outbox";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  cleanEnv,
  CliProcess,
  killAll,
  readProcessTree,
  runCli,
} from "../../test/up-process.js";
import { operatorRoleName, ownerRoleName } from "../runner/postgres-roles.js";
import { E2E_OPERATOR_TOKEN, http, listPrices } from "./system.js";

const SERVICES = ["order", "inventory", "billing", "saga"] as const;
const STREAMS = ["ORDERS", "INVENTORY", "BILLING", "SAGA", "DLQ"] as const;

async function rows(url: string, query: string): Promise<unknown[]> {
  await using db = openDatabase({ connectionString: url, max: 1 });
  return (await sql.raw<Record<string, unknown>>(query).execute(db)).rows;
}

/** The owner of each table of the database, and of the database itself. */
async function owners(url: string, database: string): Promise<string[]> {
  const found = await rows(
    url,
    `SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'
     UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${database}'`,
  );
  return found.map((r) => (r as { owner: string }).owner);
}

async function backlog(url: string): Promise<number> {
  await using db = openDatabase({ connectionString: url, max: 1 });
  return (await outboxStatus(db)).backlog;
}

/** The roles the runner created on the shared server, once their databases are gone. */
async function dropRoles(server: string, roles: string[]): Promise<void> {
  await using db = openDatabase({ connectionString: server, max: 1 });
  for (const r of roles) await sql`DROP ROLE IF EXISTS ${sql.id(r)}`.execute(db).catch(() => {});
}

describe("orderflow rebuild through the bin, on a system running under orderflow up", () => {
  const leftovers = new Set<number>();
  afterAll(() => killAll(leftovers));

  it("restores every service exactly and publishes nothing twice", async () => {
    assertBuilt();
    await using nats = await testNats();
    const server = (await testPostgresServer()).url;
    const suffix = Math.random().toString(36).slice(2, 8);
    const dataDir = mkdtempSync(join(tmpdir(), "orderflow-rebuild-live-"));
    const env: Record<string, string> = {
      NATS_URL: nats.url,
      DATABASE_URL: server,
      LOG_LEVEL: "warn",
      // A token of our own: the runner passes it to the services instead of generating one.
      OPERATOR_TOKEN: E2E_OPERATOR_TOKEN,
    };
    const urls: Record<string, string> = {};
    const dbs: Record<string, string> = {};
    for (const s of SERVICES) {
      const port = await freePort();
      env[`${s.toUpperCase()}_PORT`] = String(port);
      dbs[s] = await ensureDatabase(server, `live_${s}_${suffix}`);
      env[`${s.toUpperCase()}_DATABASE_URL`] = dbs[s];
      urls[s] = `http://127.0.0.1:${port}`;
    }
    const up = new CliProcess(["up", "--data-dir", dataDir], cleanEnv(env));
    leftovers.add(up.pid);
    const nc = await connect({ servers: nats.url });
    try {
      await up.line(/^orderflow: ready in [\d.]+ s/, 60_000);
      for (const pid of readProcessTree(dataDir).values()) leftovers.add(pid);
      // Each service runs as its database's owner, which migrated it.
      const kept = (
        JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8")) as {
          postgres: Record<string, string>;
        }
      ).postgres;
      for (const s of SERVICES) {
        const role = ownerRoleName(`live_${s}_${suffix}`);
        expect(new URL(kept[s]!).username).toBe(role);
        expect(await owners(dbs[s]!, `live_${s}_${suffix}`)).toEqual([role]);
      }

      // Stock for some orders, not all; one customer who can pay, one who soon cannot.
      await listPrices(urls.order!, { "live-a": 150, "live-b": 150 });
      await http("PUT", `${urls.inventory}/stock/live-a`, { available: 20 });
      await http("PUT", `${urls.inventory}/stock/live-b`, { available: 4 });
      await http("PUT", `${urls.billing}/accounts/live-rich`, { balanceCents: 100_000 });
      await http("PUT", `${urls.billing}/accounts/live-poor`, { balanceCents: 500 });
      const ids: string[] = [];
      for (let i = 0; i < 24; i++) {
        const r = await http<{ orderId: string }>("POST", `${urls.order}/orders`, {
          customerId: i % 3 ? "live-rich" : "live-poor",
          items: [{ sku: i % 2 ? "live-a" : "live-b", quantity: 1 + (i % 2), unitPriceCents: 150 }],
        });
        expect(r.status).toBe(201);
        ids.push(r.body.orderId);
      }
      // Idempotent retries: the same key and body answer the same order.
      const keyed: { key: string; body: object; orderId: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const key = `live-key-${i}`;
        const body = { customerId: "live-rich", items: [{ sku: "live-a", quantity: 1 }] };
        const first = await http<{ orderId: string }>("POST", `${urls.order}/orders`, body, {
          "idempotency-key": key,
        });
        const again = await http<{ orderId: string }>("POST", `${urls.order}/orders`, body, {
          "idempotency-key": key,
        });
        expect([first.status, again.status, again.body.orderId]).toEqual([201, 201, first.body.orderId]);
        keyed.push({ key, body, orderId: first.body.orderId });
        ids.push(first.body.orderId);
      }
      const jsm = await jetstreamManager(nc);
      const quiet = async () => {
        for (const id of ids) {
          const s = await http<{ state: string; steps: { inventory: string; payment: string } }>(
            "GET",
            `${urls.saga}/sagas/${id}`,
          );
          const compensating = ["RELEASE_REQUESTED", "REFUND_REQUESTED"].some(
            (x) => s.body.steps.inventory === x || s.body.steps.payment === x,
          );
          if (s.body.state !== "CONFIRMED" && (s.body.state !== "CANCELLED" || compensating)) return false;
        }
        for (const s of SERVICES) {
          if (await backlog(dbs[s]!)) return false;
        }
        for (const stream of STREAMS) {
          for await (const c of jsm.consumers.list(stream))
            if (c.num_pending + c.num_ack_pending > 0) return false;
        }
        return true;
      };
      await waitFor("every saga settled and the system quiet", quiet, { timeoutMs: 60_000 });
      const counts = async () =>
        Object.fromEntries(
          await Promise.all(
            STREAMS.map(async (s) => [s, (await jsm.streams.info(s)).state.messages] as const),
          ),
        );
      const before = await counts();
      const state = {
        inventory: [
          "SELECT * FROM stock ORDER BY sku",
          "SELECT * FROM reservations ORDER BY order_id, sku",
          "SELECT * FROM rejections ORDER BY order_id",
        ],
        billing: ["SELECT * FROM accounts ORDER BY customer_id", "SELECT * FROM payments ORDER BY order_id"],
        order: [
          "SELECT * FROM orders ORDER BY id",
          "SELECT * FROM idempotency_keys ORDER BY key",
          "SELECT * FROM prices ORDER BY sku",
        ],
        saga: ["SELECT * FROM sagas ORDER BY order_id", "SELECT * FROM saga_history ORDER BY order_id, seq"],
      };
      const statuses = new Set<string>();
      for (const id of ids)
        statuses.add((await http<{ status: string }>("GET", `${urls.order}/orders/${id}`)).body.status);
      expect([...statuses].sort()).toEqual(["CANCELLED", "CONFIRMED"]);

      for (const service of SERVICES) {
        const want = await Promise.all(state[service].map((q) => rows(dbs[service]!, q)));
        // Beside the running `orderflow up` (its data dir): the service's role and the operator's.
        const run = await runCli(
          ["rebuild", service, "--yes", "--json"],
          cleanEnv({ ...env, ORDERFLOW_DATA_DIR: dataDir }),
        );
        expect(run.code, run.stderr.join("\n")).toBe(0);
        const [result] = JSON.parse(run.stdout.join("\n")) as {
          service: string;
          coordinated: boolean;
          events: number;
        }[];
        expect(result).toMatchObject({ service, coordinated: true });
        expect(result!.events).toBeGreaterThan(0);
        expect(await Promise.all(state[service].map((q) => rows(dbs[service]!, q)))).toEqual(want);
        // Rebuilt by the operator, owned by the service's role, which migrated it.
        expect(await owners(dbs[service]!, `live_${service}_${suffix}`)).toEqual([
          ownerRoleName(`live_${service}_${suffix}`),
        ]);
        await waitFor(
          `${service} ready again`,
          async () => (await http("GET", `${urls[service]}/readyz`)).status === 200,
        );
      }
      expect(await counts()).toEqual(before);

      // The rebuilt order service answers the keys as before: the same order, or 422 for another body.
      for (const { key, body, orderId } of keyed) {
        const again = await http<{ orderId: string }>("POST", `${urls.order}/orders`, body, {
          "idempotency-key": key,
        });
        expect([again.status, again.body.orderId]).toEqual([201, orderId]);
        const other = await http(
          "POST",
          `${urls.order}/orders`,
          { ...body, customerId: "live-poor" },
          {
            "idempotency-key": key,
          },
        );
        expect(other.status).toBe(422);
      }
      expect(await counts()).toEqual(before);

      // The rebuilt services were resumed: a new order goes through them, adding only its own events.
      const r = await http<{ orderId: string }>("POST", `${urls.order}/orders`, {
        customerId: "live-rich",
        items: [{ sku: "live-a", quantity: 1, unitPriceCents: 150 }],
      });
      ids.push(r.body.orderId);
      await waitFor("the new order settled and the system quiet", quiet, { timeoutMs: 60_000 });
      expect(
        (await http<{ status: string }>("GET", `${urls.order}/orders/${r.body.orderId}`)).body.status,
      ).toBe("CONFIRMED");
      const after = await counts();
      // created + confirmed; reserved + committed; charged; approve requested and the saga's four
      // transitions (order.created, inventory.reserved, payment.charged, order.confirmed).
      expect(after).toEqual({
        ...before,
        ORDERS: before.ORDERS! + 2,
        INVENTORY: before.INVENTORY! + 2,
        BILLING: before.BILLING! + 1,
        SAGA: before.SAGA! + 5,
      });
    } finally {
      await nc.close();
      up.child.kill("SIGTERM");
      await up.exited;
      rmSync(dataDir, { recursive: true, force: true });
      for (const s of SERVICES) await dropDatabase(server, `live_${s}_${suffix}`).catch(() => {});
      await dropRoles(server, [
        operatorRoleName(SERVICES.map((s) => `live_${s}_${suffix}`)),
        ...SERVICES.map((s) => ownerRoleName(`live_${s}_${suffix}`)),
      ]);
    }
  }, 180_000);
});

import { jetstreamManager } from "@nats-io/jetstream";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers, nkeys } from "@nats-io/transport-node";
import { defineCatalog, defineEvent, mergeCatalogs } from "@orderflow/events";
import { testDatabase, testNats } from "@orderflow/testing";
import {
  CONTROL_DATABASE_HEADER,
  controlSubject,
  databaseName,
  isOutboxError,
  Topology,
} from "@orderflow/outbox";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineService, natsPermissions, startService } from "./index.js";

const orders = defineCatalog({
  typePrefix: "orderflow",
  events: [
    defineEvent({
      name: "order.confirmed",
      context: "orders",
      aggregate: "order",
      event: "confirmed",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
    defineEvent({
      name: "payment.charged",
      context: "billing",
      aggregate: "payment",
      event: "charged",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});
const shipping = defineCatalog({
  typePrefix: "com.acme.shipping",
  events: [
    defineEvent({
      name: "shipment.requested",
      context: "shipping",
      aggregate: "shipment",
      event: "requested",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});

const shippingService = defineService<Record<string, never>>()({
  name: "shipping",
  database: "shipping",
  defaultPort: 0,
  migrations: {},
  publishes: shipping,
  consumes: mergeCatalogs(orders, shipping),
  handlers: () => ({
    "order.confirmed": async (e, { emit }) => void (await emit("shipment.requested", e.data)),
  }),
});

async function servers() {
  const nats = await testNats();
  const database = await testDatabase("host");
  const env = { NATS_URL: nats.url, SHIPPING_DATABASE_URL: database.url, SHIPPING_PORT: "0" };
  return {
    env,
    nats,
    database,
    async [Symbol.asyncDispose]() {
      await database[Symbol.asyncDispose]();
      await nats[Symbol.asyncDispose]();
    },
  };
}

describe("startService", () => {
  it("provisions only the streams the service publishes to or handles, plus the dead letters", async () => {
    await using s = await servers();
    const svc = await startService(shippingService, { env: s.env, logger: pino({ level: "silent" }) });
    try {
      const nc = await connect({ servers: s.nats.url });
      const names: string[] = [];
      for await (const info of (await jetstreamManager(nc)).streams.list()) names.push(info.config.name);
      await nc.close();
      // BILLING holds payment.charged, an event of a consumed catalog that no handler takes.
      expect(names.sort()).toEqual(["DLQ", "ORDERS", "SHIPPING"]);
    } finally {
      await svc.stop();
    }
  });

  it("connects as the NATS user its environment names: NATS_NKEY_SEED_FILE, or NATS_USER and NATS_PASSWORD", async () => {
    const seed = nkeys.createUser().getSeed();
    const permissions = natsPermissions(shippingService);
    const config = {
      authorization: {
        users: [
          { nkey: nkeys.fromSeed(seed).getPublicKey(), permissions },
          { user: "shipping", password: "shipping-password", permissions },
        ],
      },
    };
    await using nats = await testNats({ config: JSON.stringify(config) });
    await using database = await testDatabase("host");
    const dir = mkdtempSync(join(tmpdir(), "orderflow-host-seed-"));
    try {
      const seedFile = join(dir, "shipping.nk");
      writeFileSync(seedFile, `${new TextDecoder().decode(seed)}\n`, { mode: 0o600 });
      const env = { NATS_URL: nats.url, SHIPPING_DATABASE_URL: database.url, SHIPPING_PORT: "0" };
      const start = (more: Record<string, string>) =>
        startService(shippingService, { env: { ...env, ...more }, logger: pino({ level: "silent" }) });
      for (const identity of <Record<string, string>[]>[
        { NATS_NKEY_SEED_FILE: seedFile },
        { NATS_USER: "shipping", NATS_PASSWORD: "shipping-password" },
      ]) {
        const svc = await start(identity);
        try {
          expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
        } finally {
          await svc.stop();
        }
      }
      await expect(start({})).rejects.toThrow(/authorization violation/i);
      await expect(start({ NATS_USER: "shipping", NATS_PASSWORD: "wrong" })).rejects.toThrow(
        /authorization violation/i,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("refuses to start when a handler names an event of none of its catalogs", async () => {
    await using s = await servers();
    const typo = {
      ...shippingService,
      handlers: () => ({ "order.confirmd": async () => {} }),
    } as unknown as typeof shippingService;
    const err: unknown = await startService(typo, { env: s.env, logger: pino({ level: "silent" }) }).catch(
      (e: unknown) => e,
    );
    expect(isOutboxError(err) && err.code).toBe("UNKNOWN_EVENT");
    expect(String(err)).toMatch(
      /shipping: a handler names "order.confirmd", which is not an event of its catalogs/,
    );
  });

  it("pauses and resumes on its control subject, and refuses a pause aimed at another database", async () => {
    await using s = await servers();
    const svc = await startService(shippingService, { env: s.env, logger: pino({ level: "silent" }) });
    const nc = await connect({ servers: s.nats.url });
    try {
      const subject = controlSubject(new Topology(), "shipping");
      const ask = async (command: string, database?: string) => {
        const h = headers();
        if (database) h.set(CONTROL_DATABASE_HEADER, database);
        return (await nc.request(subject, command, { timeout: 5000, headers: h })).string();
      };
      const own = databaseName(s.database.url);

      expect(await ask("pause", "shipping")).toBe(
        `refused: this instance uses database "${own}", not "shipping"`,
      );
      expect(svc.consumer?.running).toBe(true);
      expect(await ask("pause", own)).toBe("paused");
      expect(await ask("resume")).toBe("running");
    } finally {
      await nc.close();
      await svc.stop();
    }
  }, 20_000); // a service start and three round trips: seconds when the CPU is busy

  describe("operator routes (config: { operator: true })", () => {
    const token = "operator-token-for-the-host-test";
    let value = 1;
    const guarded = defineService<Record<string, never>>()({
      ...shippingService,
      routes: (app) => {
        app.get("/value", async () => ({ value }));
        app.put("/value", { config: { operator: true } }, async (req) => {
          value = (req.body as { value: number }).value;
          return { value };
        });
      },
    });
    const put = (url: string, headers: Record<string, string>, body = '{"value":2}') =>
      fetch(`${url}/value`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...headers },
        body,
      });

    it("need the bearer token: none or ill-formed → 401 + WWW-Authenticate, another → 403, before the body is read", async () => {
      await using s = await servers();
      const svc = await startService(guarded, {
        env: { ...s.env, OPERATOR_TOKEN: token },
        logger: pino({ level: "silent" }),
      });
      try {
        for (const headers of [
          {} as Record<string, string>,
          { authorization: token },
          { authorization: "Bearer" },
          { authorization: `Basic ${token}` },
        ]) {
          const r = await put(svc.url, headers);
          expect(r.status, JSON.stringify(headers)).toBe(401);
          expect(r.headers.get("www-authenticate")).toMatch(/^Bearer /);
          expect(await r.json()).toEqual({
            error: expect.stringMatching(/token required/) as string,
            issues: [],
          });
        }
        // Malformed JSON is not even parsed without the token.
        expect((await put(svc.url, {}, "{")).status).toBe(401);
        for (const wrong of [`${token}x`, token.slice(1), "x"]) {
          const r = await put(svc.url, { authorization: `Bearer ${wrong}` });
          expect(r.status).toBe(403);
          expect(await r.json()).toEqual({ error: "operator token rejected", issues: [] });
        }
        expect(await (await fetch(`${svc.url}/value`)).json()).toEqual({ value: 1 });

        const ok = await put(svc.url, { authorization: `bearer  ${token}` });
        expect(ok.status).toBe(200);
        expect(await (await fetch(`${svc.url}/value`)).json()).toEqual({ value: 2 });
      } finally {
        await svc.stop();
      }
    });

    it("with no token configured refuse everything (403 naming OPERATOR_TOKEN) and say so once at start", async () => {
      await using s = await servers();
      const lines: { level: number; msg: string; routes?: string[] }[] = [];
      const svc = await startService(guarded, {
        env: s.env,
        logger: pino(
          { level: "warn" },
          { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) },
        ),
      });
      try {
        value = 1;
        for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${token}` }]) {
          const r = await put(svc.url, headers);
          expect(r.status).toBe(403);
          expect(((await r.json()) as { error: string }).error).toMatch(/set OPERATOR_TOKEN/);
        }
        expect(await (await fetch(`${svc.url}/value`)).json()).toEqual({ value: 1 });
        const warnings = lines.filter((l) => l.msg.includes("OPERATOR_TOKEN"));
        expect(warnings).toEqual([expect.objectContaining({ level: 40, routes: ["PUT /value"] })]);
      } finally {
        await svc.stop();
      }
    });
  });

  it("serves /metrics publicly, or only with Authorization: Bearer <METRICS_TOKEN> when it is set", async () => {
    await using s = await servers();
    const token = "metrics-token-for-the-host-test";
    const open = await startService(shippingService, { env: s.env, logger: pino({ level: "silent" }) });
    try {
      const r = await fetch(`${open.url}/metrics`);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/^# HELP /m);
    } finally {
      await open.stop();
    }
    const guarded = await startService(shippingService, {
      env: { ...s.env, METRICS_TOKEN: token },
      logger: pino({ level: "silent" }),
    });
    try {
      const get = (authorization?: string) =>
        fetch(`${guarded.url}/metrics`, authorization ? { headers: { authorization } } : {});
      const none = await get();
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="orderflow-metrics"');
      expect((await get(`Bearer ${token}x`)).status).toBe(403);
      const ok = await get(`Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^# HELP /m);
      expect((await fetch(`${guarded.url}/readyz`)).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  }, 20_000);
});

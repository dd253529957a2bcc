import { randomBytes } from "node:crypto";
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  dropDatabase,
  ensureDatabase,
  testNats,
  testPostgresServer,
  waitFor,
  type TestNats,
} from "@orderflow/testing";
import { startService, type RunningService } from "@orderflow/host";
import type { AnyDefinition } from "../recovery/context.js";

/** The operator token the test systems run with; `http` sends it. */
export const E2E_OPERATOR_TOKEN = "e2e-operator-token-not-a-secret";

/** The four services started in this process over one private nats-server and fresh databases. */
export interface TestSystem {
  readonly nats: TestNats;
  readonly services: Readonly<Record<string, RunningService<unknown>>>;
  url(service: string): string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startSystem(
  definitions: readonly AnyDefinition[],
  env: Record<string, string> = {},
): Promise<TestSystem> {
  const nats = await testNats();
  const server = (await testPostgresServer()).url;
  const suffix = randomBytes(4).toString("hex");
  const databases: string[] = [];
  const services: Record<string, RunningService<unknown>> = {};
  const stopAll = async () => {
    await Promise.all(Object.values(services).map((s) => s.stop()));
    await nats[Symbol.asyncDispose]();
    for (const name of databases) await dropDatabase(server, name);
  };
  try {
    for (const def of definitions) {
      const database = `e2e_${def.database}_${suffix}`;
      databases.push(database);
      const prefix = def.name.toUpperCase();
      services[def.name] = await startService(def, {
        env: {
          NATS_URL: nats.url,
          DATABASE_URL: server,
          [`${prefix}_DATABASE_URL`]: await ensureDatabase(server, database),
          [`${prefix}_PORT`]: "0",
          LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
          RELAY_POLL_MS: "200",
          OPERATOR_TOKEN: E2E_OPERATOR_TOKEN,
          ...env,
        },
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    nats,
    services,
    url: (name) => {
      const s = services[name];
      if (!s) throw new Error(`no service ${name}`);
      return s.url;
    },
    [Symbol.asyncDispose]: stopAll,
  };
}

/** Waits until every durable consumer has nothing pending and every relay has drained its outbox. */
export async function quiesce(
  jsm: JetStreamManager,
  services: Readonly<Record<string, RunningService<unknown>>>,
): Promise<void> {
  await waitFor(
    "system quiet",
    async () => {
      for (const s of Object.values(services)) await s.relay.idle();
      for await (const stream of jsm.streams.list()) {
        for await (const c of jsm.consumers.list(stream.config.name))
          if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs: 30_000 },
  );
}

/** A JSON request as the operator (the test systems' token on every request; `headers` may override it). */
export async function http<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  headers = { authorization: `Bearer ${E2E_OPERATOR_TOKEN}`, ...headers };
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Lists each SKU at its unit price on the order service at `orderUrl`. */
export async function listPrices(orderUrl: string, prices: Record<string, number>): Promise<void> {
  for (const [sku, unitPriceCents] of Object.entries(prices)) {
    const r = await http("PUT", `${orderUrl}/prices/${sku}`, { unitPriceCents });
    if (r.status !== 200) throw new Error(`PUT /prices/${sku} answered ${r.status}`);
  }
}

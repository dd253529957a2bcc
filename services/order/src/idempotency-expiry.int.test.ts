import { startService } from "@orderflow/host";
import { testDatabase, testNats, waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { definition } from "./service.js";

const TOKEN = "order-int-test-operator-token";

describe("Idempotency-Key expiry", () => {
  it("a key older than IDEMPOTENCY_KEY_RETENTION_HOURS is deleted by the relay's cleanup; the same key then makes a new order", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("order_keys");
    const svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        ORDER_DATABASE_URL: database.url,
        ORDER_PORT: "0",
        LOG_LEVEL: "silent",
        RELAY_POLL_MS: "100",
        OPERATOR_TOKEN: TOKEN,
        // 3.6 s: the cleanup then runs every 3.6 s.
        IDEMPOTENCY_KEY_RETENTION_HOURS: "0.001",
      },
    });
    try {
      const put = await fetch(`${svc.url}/prices/sku-a`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ unitPriceCents: 100 }),
      });
      expect(put.status).toBe(200);
      const post = async () => {
        const r = await fetch(`${svc.url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", "Idempotency-Key": "k-1" },
          body: JSON.stringify({ customerId: "c", items: [{ sku: "sku-a", quantity: 1 }] }),
        });
        return { status: r.status, orderId: ((await r.json()) as { orderId: string }).orderId };
      };
      const first = await post();
      expect(first.status).toBe(201);
      const keys = async () =>
        (await sql<{ key: string }>`SELECT key FROM idempotency_keys`.execute(svc.db)).rows.map((r) => r.key);
      expect(await keys()).toEqual(["k-1"]);
      await waitFor("the key expired", async () => (await keys()).length === 0, { timeoutMs: 20_000 });
      const { rows } = await sql<{
        name: string;
      }>`SELECT name FROM orderflow_retention WHERE name = 'idempotency_keys'`.execute(svc.db);
      expect(rows).toHaveLength(1);
      // After expiry, the same key is a new request.
      const again = await post();
      expect(again.status).toBe(201);
      expect(again.orderId).not.toBe(first.orderId);
    } finally {
      await svc.stop();
    }
  }, 60_000);
});

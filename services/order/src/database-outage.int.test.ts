import { startService } from "@orderflow/host";
import { testNats, testPostgres, waitFor } from "@orderflow/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { definition } from "./service.js";

const TOKEN = "order-outage-test-operator-token";

describe("POST /orders with PostgreSQL down", () => {
  it("answers 503 with Retry-After, not 500, and the same request succeeds once PostgreSQL is back", async () => {
    await using nats = await testNats();
    await using pgx = await testPostgres();
    const errors: string[] = [];
    const svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        ORDER_DATABASE_URL: await pgx.database("orders"),
        ORDER_PORT: "0",
        OPERATOR_TOKEN: TOKEN,
      },
      logger: pino({ level: "error" }, { write: (line: string) => void errors.push(line) }),
    });
    try {
      const put = await fetch(`${svc.url}/prices/sku-apple`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ unitPriceCents: 150 }),
      });
      expect(put.status).toBe(200);
      const post = () =>
        fetch(`${svc.url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": "outage-1" },
          body: JSON.stringify({ customerId: "alice", items: [{ sku: "sku-apple", quantity: 2 }] }),
        });

      await pgx.server.stop();
      const refused = await post();
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("5");
      expect(await refused.json()).toEqual({ error: "database unavailable", issues: [] });

      await pgx.server.restart();
      const created = await waitFor(
        "the order accepted",
        async () => {
          const r = await post();
          expect(r.status).not.toBe(500);
          return r.status === 201 && ((await r.json()) as { orderId: string; status: string });
        },
        { timeoutMs: 20_000 },
      );
      expect(created).toMatchObject({ status: "PENDING" });
      expect(errors).toEqual([]);
    } finally {
      await svc.stop();
    }
  }, 60_000);
});

import { catalog, sagaEvents } from "@orderflow/contracts";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { publish, testDatabase, testNats, waitFor } from "@orderflow/testing";
import { createOutbox } from "@orderflow/outbox";
import { startService } from "@orderflow/host";
import pg from "pg";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createDeadlineWorker } from "./deadline-worker.js";
import { readSaga } from "./saga-store.js";
import { definition } from "./service.js";

describe("deadline worker", () => {
  it("times sagas out by the injected clock, and stop() waits for the tick in progress", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("saga_deadline");
    let clock = new Date("2030-01-01T00:00:00.000Z");
    const now = () => clock;
    // The service's own worker never ticks here: the test drives its own instance.
    const svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        SAGA_DATABASE_URL: database.url,
        SAGA_PORT: "0",
        LOG_LEVEL: "silent",
        SAGA_DEADLINE_MS: "60000",
        SAGA_TICK_MS: "3600000",
      },
      now,
    });
    const nc = await connect({ servers: nats.url });
    const locker = new pg.Client({ connectionString: database.url });
    try {
      const worker = createDeadlineWorker({
        db: svc.db,
        outbox: createOutbox({ catalog: sagaEvents, source: "/orderflow/saga", now }),
        logger: pino({ level: "silent" }),
        now,
        deadlineMs: 60_000,
        tickMs: 1,
      });
      const orderId = newEventId();
      await publish(
        jetstream(nc),
        catalog,
        "order.created",
        {
          orderId,
          customerId: "c",
          items: [{ sku: "s", quantity: 1, unitPriceCents: 1 }],
          totalCents: 1,
          currency: "USD",
        },
        { correlationId: orderId },
      );
      const saga = await waitFor(
        "saga knows the order",
        async () => (await readSaga(svc.db, orderId))?.deadlineAt ?? undefined,
      );
      expect(saga).toBe("2030-01-01T00:01:00.000Z");

      clock = new Date("2030-01-01T00:00:59.999Z");
      expect(await worker.tick()).toBe(0);
      clock = new Date("2030-01-01T00:01:00.000Z");

      // Block the tick where it enqueues, then stop the worker: stop() must wait for it.
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE orderflow_outbox IN EXCLUSIVE MODE");
      worker.start();
      await waitFor("tick blocked on the outbox", async () => {
        const r = await locker.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'orderflow_outbox'::regclass`,
        );
        return Number(r.rows[0]!.n) > 0;
      });
      let stopped = false;
      const stopping = worker.stop().then(() => (stopped = true));
      await locker.query("SELECT 1");
      expect(stopped).toBe(false);
      await locker.query("COMMIT");
      await stopping;

      const s = await readSaga(svc.db, orderId);
      expect(s).toMatchObject({
        state: "COMPENSATING",
        reason: "timed out waiting for inventory and payment",
      });
      expect(s?.history.at(-1)).toMatchObject({
        event: "deadline",
        at: "2030-01-01T00:01:00.000Z",
        sent: ["order.cancel.requested"],
      });
      // Nothing left to time out; a stopped worker stays stopped.
      expect(await worker.tick()).toBe(0);
    } finally {
      await locker.end().catch(() => {});
      await nc.close();
      await svc.stop();
    }
  }, 30_000);
});

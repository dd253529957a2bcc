import type { NatsConnection } from "@nats-io/transport-node";
import { outboxStatus, type AnyDb } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import type { Messaging } from "./messaging.js";
import type { Metrics } from "./metrics.js";

/** GET /healthz (alive), /readyz (database, NATS, consumers receiving, not paused), /metrics. */
export function addHealthRoutes(
  app: FastifyInstance,
  on: { db: AnyDb; nc: NatsConnection; messaging: Messaging; metrics: Metrics },
): void {
  const { db, nc, messaging, metrics } = on;
  const succeeds = (p: Promise<unknown>) =>
    p.then(
      () => true,
      () => false,
    );
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const checks = {
      database: await succeeds(sql`SELECT 1`.execute(db)),
      nats: !nc.isClosed() && !nc.isDraining() && (await succeeds(nc.flush())),
      consumers: messaging.consumer ? messaging.consumer.running : true,
      active: !messaging.paused,
    };
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });
  app.get("/metrics", async (_req, reply) => {
    const status = await outboxStatus(db).catch(() => undefined);
    if (status) metrics.backlog.set(status.backlog);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

import type { NatsConnection } from "@nats-io/transport-node";
import type { AnyDb } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { z } from "zod";
import type { Messaging } from "./messaging.js";
import type { Metrics } from "./metrics.js";
import { ErrorBody, metricsSecurity } from "./openapi.js";
import { bearerOnly } from "./operator-auth.js";
import { succeedsWithin } from "./succeeds-within.js";

/** How long each readiness check may take before it counts as failed. */
const READY_CHECK_TIMEOUT_MS = 1000;

/**
 * GET /healthz (alive: touches neither NATS nor the database), /readyz (database, NATS, consumers
 * receiving, not paused; the checks run side by side, each given READY_CHECK_TIMEOUT_MS, so a stalled
 * server makes it answer 503 naming the check instead of hanging), /metrics (behind METRICS_TOKEN
 * when it is set).
 */
export function addHealthRoutes(
  app: FastifyInstance,
  on: {
    db: AnyDb;
    nc: NatsConnection;
    messaging: Messaging;
    metrics: Metrics;
    /** Reads the gauges kept outside the process (outbox, JetStream) before a scrape. */
    refreshMetrics: () => Promise<void>;
    /** Set: /metrics requires it as a bearer token. */
    metricsToken: string | undefined;
  },
): void {
  const { db, nc, messaging, metrics, refreshMetrics, metricsToken } = on;
  app.get("/healthz", { schema: { tags, response: { 200: Alive } } }, async () => ({
    status: "ok" as const,
  }));
  app.get(
    "/readyz",
    { schema: { tags, response: { 200: Readiness, 503: Readiness } } },
    async (_req, reply) => {
      const [database, nats] = await Promise.all([
        succeedsWithin(sql`SELECT 1`.execute(db), READY_CHECK_TIMEOUT_MS),
        !nc.isClosed() && !nc.isDraining() && succeedsWithin(nc.flush(), READY_CHECK_TIMEOUT_MS),
      ]);
      const checks = {
        database,
        nats,
        consumers: messaging.consumer ? messaging.consumer.running : true,
        active: !messaging.paused,
      };
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    },
  );
  const guard =
    metricsToken === undefined ? {} : { onRequest: bearerOnly(metricsToken, "metrics", "METRICS_TOKEN") };
  const metricsSchema = {
    tags,
    security: metricsSecurity,
    response: {
      200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } },
      401: ErrorBody.describe("METRICS_TOKEN is set and no bearer token was sent"),
      403: ErrorBody.describe("not the METRICS_TOKEN"),
    },
  };
  app.get("/metrics", { ...guard, schema: metricsSchema }, async (_req, reply) => {
    await refreshMetrics();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/** Tagged `health`: the host's own routes, which answer without the database (no 503 is added). */
const tags = ["health"];
const Alive = z.object({ status: z.literal("ok") });
const Readiness = z.object({
  status: z.enum(["ready", "not ready"]),
  checks: z.object({ database: z.boolean(), nats: z.boolean(), consumers: z.boolean(), active: z.boolean() }),
});

import {
  catalog,
  orderLockKeys,
  sourceOf,
  orderEvents,
  type OrderflowCatalog,
  type OrderEvents,
} from "@orderflow/contracts";
import type { ServiceDefinition } from "@orderflow/host";
import { lockKeys } from "@orderflow/outbox";
import { z } from "zod";
import { migrations, type OrderDb } from "./migrations.js";
import { orderHandlers } from "./order-handlers.js";
import { applyOwnEvent } from "./order-projection.js";
import { orderRoutes } from "./order-routes.js";
import { priceRoutes } from "./price-routes.js";

export const orderConfig = {
  // POST /orders per client address per minute; 0 or "off" turns the limit off (load tests).
  RATE_LIMIT_PER_MINUTE: z
    .union([z.literal("off"), z.coerce.number({ error: 'must be a number or "off"' }).int().nonnegative()])
    .default(600)
    .transform((n) => (n === "off" || n === 0 ? undefined : n)),
  // How long an Idempotency-Key answers with its order; a retry after that creates a new order.
  IDEMPOTENCY_KEY_RETENTION_HOURS: z.coerce.number().positive().default(168),
};

/** Takes orders over HTTP, priced from its price list, and applies the saga's decision to them. */
export const definition: ServiceDefinition<OrderDb, typeof orderConfig, OrderEvents, OrderflowCatalog> = {
  name: "order",
  source: sourceOf("order"),
  publishes: orderEvents,
  consumes: catalog,
  database: "orders",
  defaultPort: 3000,
  migrations,
  config: orderConfig,
  handlers: orderHandlers,
  retention: ({ config }) => [
    {
      name: "idempotency_keys",
      retentionMs: config.IDEMPOTENCY_KEY_RETENTION_HOURS * 3_600_000,
      deleteBatch: `DELETE FROM idempotency_keys WHERE key IN (
        SELECT key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
    },
  ],
  // One order's row per event: its lock first, in one fixed order, so two instances never deadlock.
  lockBatch: (trx, events) => lockKeys(trx, orderLockKeys(events)),
  routes: async (app, deps) => {
    priceRoutes(app, deps);
    await orderRoutes(app, deps, { ratePerMinute: deps.config.RATE_LIMIT_PER_MINUTE });
  },
  // Orders, idempotency keys and prices are all in the ORDERS stream (order.created v3, price.set).
  projection: { context: "orders", apply: applyOwnEvent },
};

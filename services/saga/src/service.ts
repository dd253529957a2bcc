import {
  catalog,
  orderLockKeys,
  sourceOf,
  sagaEvents,
  type OrderflowCatalog,
  type SagaEvents,
} from "@orderflow/contracts";
import type { ServiceDefinition } from "@orderflow/host";
import { lockKeys } from "@orderflow/outbox";
import { createDeadlineWorker } from "./deadline-worker.js";
import { migrations, type SagaDb } from "./migrations.js";
import { sagaMetrics } from "./saga-metrics.js";
import { sagaConfig, type SagaConfigShape } from "./saga-config.js";
import { sagaHandlers } from "./saga-handlers.js";
import { applyOwnEvent } from "./saga-projection.js";
import { sagaRoutes } from "./saga-routes.js";

/** The coordinator: one persisted state machine per order, with a deadline per saga. */
export const definition: ServiceDefinition<SagaDb, SagaConfigShape, SagaEvents, OrderflowCatalog> = {
  name: "saga",
  source: sourceOf("saga"),
  publishes: sagaEvents,
  consumes: catalog,
  database: "saga",
  defaultPort: 3003,
  migrations,
  config: sagaConfig,
  handlers: sagaHandlers,
  // One order's row per event: its lock first, in one fixed order, so two instances never deadlock.
  lockBatch: (trx, events) => lockKeys(trx, orderLockKeys(events)),
  // Handlers lock only their own order's rows: lanes by order cannot deadlock.
  consumerConcurrency: 2,
  routes: sagaRoutes,
  // Every transition publishes saga.transitioned with the state after it: SAGA is the saga's journal.
  projection: { context: "saga", apply: applyOwnEvent },
  workers: ({ db, outbox, logger, now, config, metrics }) => [
    createDeadlineWorker({
      db,
      outbox,
      logger,
      now,
      deadlineMs: config.SAGA_DEADLINE_MS,
      tickMs: config.SAGA_TICK_MS,
      metrics: sagaMetrics(metrics.registry),
    }),
  ],
};

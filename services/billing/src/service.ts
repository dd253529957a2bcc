import {
  catalog,
  sourceOf,
  billingEvents,
  type OrderflowCatalog,
  type BillingEvents,
} from "@orderflow/contracts";
import type { ServiceDefinition } from "@orderflow/host";
import { accountRoutes } from "./account-routes.js";
import { billingHandlers } from "./billing-handlers.js";
import { applyOwnEvent, lockBatch } from "./billing-store.js";
import { migrations, type BillingDb } from "./migrations.js";

/** Customer accounts and a payment per order: charge only what the balance covers, refund once. */
export const definition: ServiceDefinition<BillingDb, {}, BillingEvents, OrderflowCatalog> = {
  name: "billing",
  source: sourceOf("billing"),
  publishes: billingEvents,
  consumes: catalog,
  database: "billing",
  defaultPort: 3002,
  migrations,
  handlers: billingHandlers,
  lockBatch,
  routes: accountRoutes,
  projection: {
    context: "billing",
    apply: applyOwnEvent,
  },
};

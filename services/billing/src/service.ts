import type { ServiceDefinition } from "@orderflow/outbox";
import { accountRoutes } from "./account-routes.js";
import { billingEventNames, type BillingEvent } from "./billing-decider.js";
import { billingHandlers } from "./billing-handlers.js";
import { applyOwnEvent } from "./billing-store.js";
import { migrations, type BillingDb } from "./migrations.js";

/** Customer accounts and a payment per order: charge only what the balance covers, refund once. */
export const definition: ServiceDefinition<BillingDb> = {
  name: "billing",
  database: "billing",
  defaultPort: 3002,
  migrations,
  handlers: billingHandlers,
  routes: accountRoutes,
  projection: {
    context: "billing",
    apply: async (trx, event) => {
      if (billingEventNames.has(event.name)) await applyOwnEvent(trx, event as BillingEvent);
    },
  },
};

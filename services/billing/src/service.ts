import type { ServiceDefinition } from "@orderflow/outbox";
import type { BillingEvent } from "./decide.js";
import { handlers } from "./handlers.js";
import { migrations, type BillingDb } from "./migrations.js";
import { routes } from "./routes.js";
import { applyOwnEvent } from "./store.js";

const own = new Set<string>(["account.balance.set", "payment.charged", "payment.declined", "payment.refunded"]);

/** Customer accounts and payments per order. */
export const definition: ServiceDefinition<BillingDb> = {
  name: "billing",
  database: "billing",
  defaultPort: 3002,
  migrations,
  handlers,
  routes,
  projection: {
    context: "billing",
    apply: async (trx, event) => {
      if (own.has(event.name)) await applyOwnEvent(trx, event as unknown as BillingEvent);
    },
  },
};

import type { ServiceDefinition } from "@orderflow/outbox";
import { inventoryEventNames, type InventoryEvent } from "./inventory-decider.js";
import { inventoryHandlers } from "./inventory-handlers.js";
import { applyOwnEvent } from "./inventory-store.js";
import { migrations, type InventoryDb } from "./migrations.js";
import { stockRoutes } from "./stock-routes.js";

/** Stock per SKU and a reservation per order: reserve all or none, then release or commit once. */
export const definition: ServiceDefinition<InventoryDb> = {
  name: "inventory",
  database: "inventory",
  defaultPort: 3001,
  migrations,
  handlers: inventoryHandlers,
  routes: stockRoutes,
  projection: {
    context: "inventory",
    apply: async (trx, event) => {
      if (inventoryEventNames.has(event.name)) await applyOwnEvent(trx, event as InventoryEvent);
    },
  },
};

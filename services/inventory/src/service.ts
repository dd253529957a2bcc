import type { ServiceDefinition } from "@orderflow/outbox";
import type { InventoryEvent } from "./decide.js";
import { handlers } from "./handlers.js";
import { migrations, type InventoryDb } from "./migrations.js";
import { routes } from "./routes.js";
import { applyOwnEvent } from "./store.js";

const own = new Set<string>(["stock.set", "inventory.reserved", "inventory.rejected", "inventory.released", "inventory.committed"]);

/** Stock per SKU and reservations per order. */
export const definition: ServiceDefinition<InventoryDb> = {
  name: "inventory",
  database: "inventory",
  defaultPort: 3001,
  migrations,
  handlers,
  routes,
  projection: {
    context: "inventory",
    apply: async (trx, event) => {
      if (own.has(event.name)) await applyOwnEvent(trx, event as unknown as InventoryEvent);
    },
  },
};

import type { ServiceDefinition } from "@orderflow/outbox";
import { handlers } from "./handlers.js";
import { migrations, type OrderDb } from "./migrations.js";
import { routes } from "./routes.js";

/** Takes orders over HTTP and applies the saga's decision to them. */
export const definition: ServiceDefinition<OrderDb> = {
  name: "order",
  database: "orders",
  defaultPort: 3000,
  migrations,
  handlers,
  routes,
};

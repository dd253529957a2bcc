import {
  catalog,
  sourceOf,
  orderEvents,
  type OrderflowCatalog,
  type OrderEvents,
} from "@orderflow/contracts";
import type { ServiceDefinition } from "@orderflow/host";
import { migrations, type OrderDb } from "./migrations.js";
import { orderHandlers } from "./order-handlers.js";
import { orderRoutes } from "./order-routes.js";

/** Takes orders over HTTP and applies the saga's decision to them. */
export const definition: ServiceDefinition<OrderDb, {}, OrderEvents, OrderflowCatalog> = {
  name: "order",
  source: sourceOf("order"),
  publishes: orderEvents,
  consumes: catalog,
  database: "orders",
  defaultPort: 3000,
  migrations,
  handlers: orderHandlers,
  routes: (app, deps) => orderRoutes(app, deps),
};

import type { ServiceDefinition } from "@orderflow/outbox";
import { z } from "zod";
import { deadlineWorker } from "./deadline-worker.js";
import { handlers } from "./handlers.js";
import { migrations, type SagaDb } from "./migrations.js";
import { routes } from "./routes.js";

const config = {
  SAGA_DEADLINE_MS: z.coerce.number({ error: "must be a number" }).int().positive().default(30_000),
  SAGA_TICK_MS: z.coerce.number({ error: "must be a number" }).int().positive().default(200),
};

/** The coordinator: one persisted state machine per order. */
export const definition: ServiceDefinition<SagaDb, typeof config> = {
  name: "saga",
  database: "saga",
  defaultPort: 3003,
  migrations,
  config,
  handlers,
  routes,
  workers: (deps) => [deadlineWorker(deps)],
};

import { z } from "zod";

const ms = z.coerce
  .number({ error: "must be a number of milliseconds" })
  .int("must be an integer")
  .positive("must be positive");

/** The saga's own environment, on top of the runtime's. */
export const sagaConfig = {
  /** How long a saga waits for inventory and payment once it learns of the order. */
  SAGA_DEADLINE_MS: ms.default(30_000),
  /** How often the deadline worker looks for sagas past their deadline. */
  SAGA_TICK_MS: ms.default(200),
};
export type SagaConfigShape = typeof sagaConfig;

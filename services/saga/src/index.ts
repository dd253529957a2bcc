export { definition } from "./service.js";
export { decide, evolve, commandsOf, initialState } from "./saga-decider.js";
export type {
  SagaState,
  SagaStatus,
  SagaInput,
  SagaEvent,
  SagaEventName,
  SagaCommand,
  InventoryStep,
  PaymentStep,
  OrderFacts,
  Step,
} from "./saga-decider.js";
export { sagaConfig } from "./saga-config.js";
export type { SagaConfigShape } from "./saga-config.js";
export type { SagaView } from "./saga-store.js";
export type { SagaDb } from "./migrations.js";

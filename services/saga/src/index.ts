export { definition } from "./service.js";
export { decide, initialState, sagaInputs } from "./decide.js";
export type { SagaState, SagaStatus, SagaInput, SagaCommand, InventoryStep, PaymentStep } from "./decide.js";
export type { SagaDb } from "./migrations.js";

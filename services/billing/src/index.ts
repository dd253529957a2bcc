export { definition } from "./service.js";
export { decide, evolve, ACCOUNT_CURRENCY } from "./decide.js";
export type { BillingState, BillingInput, BillingEvent } from "./decide.js";
export { applyOwnEvent } from "./store.js";
export type { BillingDb } from "./migrations.js";

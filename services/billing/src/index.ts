export { definition } from "./service.js";
export { decide, evolve, ACCOUNT_CURRENCY, billingEventNames, isPublished } from "./billing-decider.js";
export type {
  BillingState,
  BillingCommand,
  BillingEvent,
  PublishedBillingEvent,
  TombstoneRecorded,
  Account,
  Payment,
  Tombstone,
} from "./billing-decider.js";
export { applyOwnEvent } from "./billing-store.js";
export type { AccountView } from "./billing-store.js";
export type { BillingDb } from "./migrations.js";

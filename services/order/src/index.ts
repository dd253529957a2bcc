export { definition } from "./service.js";
export { decide, evolve, ignoredBecause, totalOf } from "./order-decider.js";
export type { OrderState, OrderStatus, OrderCommand, OrderEvent } from "./order-decider.js";
export { CreateOrderRequest, IdempotencyHeaders, requestHash } from "./create-order.js";
export type { OrderView } from "./order-store.js";
export type { OrderDb, OrderLineRow } from "./migrations.js";

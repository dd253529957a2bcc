export { definition } from "./service.js";
export { decide, evolve, totalOf } from "./decide.js";
export type { OrderState, OrderDecision, OrderEvent } from "./decide.js";
export { CreateOrder } from "./routes.js";
export type { OrderDb, OrderStatus } from "./migrations.js";

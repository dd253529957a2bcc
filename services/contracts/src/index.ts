import { pickContexts, type CloudEventOf, type EventDataOf, type EventNameOf } from "@orderflow/events";
import { catalog } from "./catalog.js";

export { catalog, OrderLine } from "./catalog.js";

export type OrderflowCatalog = typeof catalog;
export type EventName = EventNameOf<OrderflowCatalog>;
export type EventData<N extends EventName> = EventDataOf<OrderflowCatalog, N>;
/** An event of the order system as a handler sees it; a union by `name` when unparameterised. */
export type CloudEvent<N extends EventName = EventName> = CloudEventOf<OrderflowCatalog, N>;
export type Context = OrderflowCatalog["events"][EventName]["context"];

export const eventNames = catalog.names;
export const { encode, encodeVersion, decode } = catalog;

/** `ce-source` of the order system's services: `/orderflow/<service>`. */
export const sourceOf = (service: string): string => `/orderflow/${service}`;

/**
 * The advisory-lock key of one order: every service serialises what it does about an order under
 * it (a handler's own lock and a consumer batch's `lockBatch` must name the same key).
 */
export const orderLockKey = (orderId: string): string => `orderflow.order:${orderId}`;

/** The lock keys of the orders some events are about (an event without an `orderId` has none). */
export const orderLockKeys = (events: readonly { readonly data: object }[]): string[] =>
  events.flatMap((e) =>
    "orderId" in e.data && typeof e.data.orderId === "string" ? [orderLockKey(e.data.orderId)] : [],
  );

/** What each service publishes: the events of its own bounded context. */
export const orderEvents = pickContexts(catalog, "orders");
export const inventoryEvents = pickContexts(catalog, "inventory");
export const billingEvents = pickContexts(catalog, "billing");
export const sagaEvents = pickContexts(catalog, "saga");
export type OrderEvents = typeof orderEvents;
export type InventoryEvents = typeof inventoryEvents;
export type BillingEvents = typeof billingEvents;
export type SagaEvents = typeof sagaEvents;

import { defineCatalog, defineEvent, SafeString } from "@orderflow/events";
import { z } from "zod";

const OrderId = SafeString.min(1).max(128);

/**
 * Shipping's own events. On the wire: ce-type `com.acme.shipping.shipment.requested.v1`, subject
 * `shipping.shipment.requested`, stream `SHIPPING`; ce-subject is the order id.
 */
export const shipping = defineCatalog({
  typePrefix: "com.acme.shipping",
  events: [
    defineEvent({
      name: "shipment.requested",
      context: "shipping",
      aggregate: "shipment",
      event: "requested",
      schema: z.object({ orderId: OrderId, customerId: SafeString.min(1).max(128) }),
      key: "orderId",
    }),
    defineEvent({
      name: "shipment.dispatched",
      context: "shipping",
      aggregate: "shipment",
      event: "dispatched",
      schema: z.object({ orderId: OrderId, carrier: SafeString.min(1).max(64) }),
      key: "orderId",
    }),
  ],
});
export type Shipping = typeof shipping;

// Compile-time checks (`tsc --noEmit`): the runtime's types come from shipping's catalogs.
import { catalog as orderflow } from "@orderflow/contracts";
import { defineService } from "@orderflow/host";
import { createOutbox, type Handlers } from "@orderflow/outbox";
import { shipping } from "../src/events.js";
import type { ShippingDb } from "../src/migrations.js";

const outbox = createOutbox({ catalog: shipping, source: "/acme/shipping" });
export async function enqueues(trx: Parameters<typeof outbox.enqueue>[0]): Promise<void> {
  await outbox.enqueue(
    trx,
    "shipment.dispatched",
    { orderId: "o-1", carrier: "dhl" },
    { correlationId: "o-1" },
  );
  // @ts-expect-error an event shipping does not publish
  await outbox.enqueue(trx, "order.confirmed", { orderId: "o-1" }, { correlationId: "o-1" });
  // @ts-expect-error a payload without its carrier
  await outbox.enqueue(trx, "shipment.dispatched", { orderId: "o-1" }, { correlationId: "o-1" });
}

export const wrongHandlers = defineService<ShippingDb>()({
  name: "shipping",
  database: "shipping",
  defaultPort: 3010,
  migrations: {},
  publishes: shipping,
  consumes: orderflow,
  handlers: () => ({
    "order.confirmed": async (event, { trx, emit }) => {
      // @ts-expect-error the handler's transaction is typed by the service's tables
      await trx.insertInto("parcels").values({ id: "p-1" }).execute();
      // @ts-expect-error order.confirmed carries no `carrier`
      void event.data.carrier;
      // @ts-expect-error shipping cannot emit the order system's events
      await emit("order.cancelled", { orderId: "o-1", customerId: "c", reason: "r" });
    },
  }),
});

// A handler map named by its type is checked for unknown events too (inline in defineService, a
// misspelt name is refused when the service starts: OutboxError UNKNOWN_EVENT).
export const handlers: Handlers<typeof orderflow, typeof shipping> = {
  // @ts-expect-error no such event in the catalog it consumes
  "order.shipped": async () => {},
};

import { catalog as orderflow } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import { defineService, NotFoundBody, type ZodTypeProvider } from "@orderflow/host";
import { z } from "zod";
import { shipping } from "./events.js";
import { migrations, type ShippingDb } from "./migrations.js";

const Params = z.object({ orderId: SafeString.min(1).max(128) });
const DispatchBody = z.object({ carrier: SafeString.min(1).max(64) });
const Shipment = z.object({
  order_id: z.string(),
  customer_id: z.string(),
  state: z.enum(["requested", "dispatched"]),
  carrier: z.string().nullable(),
});

/**
 * Ships confirmed orders: consumes the order system's `order.confirmed` (exactly once: the runtime's
 * inbox), writes a shipment and publishes `shipment.requested` in the same transaction;
 * `POST /shipments/:orderId/dispatch` publishes `shipment.dispatched`. The routes' zod schemas
 * validate requests (400 naming the field) and describe them at `GET /openapi.json`.
 */
export const definition = defineService<ShippingDb>()({
  name: "shipping",
  source: "/acme/shipping",
  database: "shipping",
  defaultPort: 3010,
  migrations,
  publishes: shipping,
  consumes: orderflow,
  handlers: () => ({
    "order.confirmed": async (event, { trx, emit }) => {
      const { orderId, customerId } = event.data;
      await trx
        .insertInto("shipments")
        .values({ order_id: orderId, customer_id: customerId, state: "requested", carrier: null })
        .execute();
      await emit("shipment.requested", { orderId, customerId });
    },
  }),
  routes: (app, { db, outbox }) => {
    const api = app.withTypeProvider<ZodTypeProvider>();
    const response = { 200: Shipment, 404: NotFoundBody };
    api.get("/shipments/:orderId", { schema: { params: Params, response } }, async (req, reply) => {
      const { orderId } = req.params;
      const row = await db
        .selectFrom("shipments")
        .selectAll()
        .where("order_id", "=", orderId)
        .executeTakeFirst();
      return row ?? reply.code(404).send({ error: `no shipment for order ${orderId}` });
    });
    const dispatch = { params: Params, body: DispatchBody, response };
    api.post("/shipments/:orderId/dispatch", { schema: dispatch }, async (req, reply) => {
      const { orderId } = req.params;
      const { carrier } = req.body;
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom("shipments")
          .selectAll()
          .where("order_id", "=", orderId)
          .forUpdate()
          .executeTakeFirst();
        if (!row) return reply.code(404).send({ error: `no shipment for order ${orderId}` });
        if (row.state === "dispatched") return row; // a retried request publishes nothing twice
        await trx
          .updateTable("shipments")
          .set({ state: "dispatched", carrier })
          .where("order_id", "=", orderId)
          .execute();
        await outbox.enqueue(trx, "shipment.dispatched", { orderId, carrier }, { correlationId: orderId });
        return { ...row, state: "dispatched" as const, carrier };
      });
    });
  },
  // `orderflow rebuild shipping`: the shipments table is the fold of shipping's own events.
  projection: {
    context: "shipping",
    apply: async (trx, event) => {
      switch (event.name) {
        case "shipment.requested":
          await trx
            .insertInto("shipments")
            .values({
              order_id: event.data.orderId,
              customer_id: event.data.customerId,
              state: "requested",
              carrier: null,
            })
            .execute();
          break;
        case "shipment.dispatched":
          await trx
            .updateTable("shipments")
            .set({ state: "dispatched", carrier: event.data.carrier })
            .where("order_id", "=", event.data.orderId)
            .execute();
          break;
      }
    },
  },
});

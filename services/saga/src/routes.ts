import type { ServiceDeps } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SagaDb } from "./migrations.js";

const Params = z.object({ orderId: z.string().min(1).max(128) });

export function routes(app: FastifyInstance, { db }: Pick<ServiceDeps<SagaDb>, "db">): void {
  app.get("/sagas/:orderId", async (req, reply) => {
    const { orderId } = Params.parse(req.params);
    const saga = await db.selectFrom("sagas").selectAll().where("order_id", "=", orderId).executeTakeFirst();
    if (!saga) return reply.code(404).send({ error: `unknown saga ${orderId}` });
    const history = await db.selectFrom("saga_history").selectAll().where("order_id", "=", orderId).orderBy("id").execute();
    return {
      orderId,
      state: saga.status,
      steps: { inventory: saga.inventory, payment: saga.payment },
      ...(saga.failures.length ? { reason: saga.failures.join("; ") } : {}),
      deadlineAt: saga.deadline_at.toISOString(),
      history: history.map((h) => ({
        at: h.at.toISOString(),
        event: h.event,
        from: h.from_status,
        to: h.to_status,
        steps: { inventory: h.inventory, payment: h.payment },
      })),
    };
  });
}

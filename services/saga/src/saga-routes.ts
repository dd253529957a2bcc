import type { ServiceDeps } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import type { SagaDb } from "./migrations.js";
import { readSaga } from "./saga-store.js";

/** `GET /sagas/:orderId`: state, steps and every transition; 404 when the saga is unknown. */
export function sagaRoutes(app: FastifyInstance, { db }: Pick<ServiceDeps<SagaDb>, "db">): void {
  app.get<{ Params: { orderId: string } }>("/sagas/:orderId", async (req, reply) => {
    const { orderId } = req.params;
    const saga = orderId.length <= 128 ? await readSaga(db, orderId) : undefined;
    return saga ?? reply.code(404).send({ error: `unknown saga ${orderId}` });
  });
}

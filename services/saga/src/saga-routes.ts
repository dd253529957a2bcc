import type { SagaEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import type { ServiceDeps } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SagaDb } from "./migrations.js";
import { readSaga } from "./saga-store.js";

/** NUL or a lone surrogate is a 400 naming orderId; any other id is looked up (404 if unknown). */
const SagaParams = z.object({ orderId: SafeString });

/** `GET /sagas/:orderId`: state, steps and every transition; 404 when the saga is unknown. */
export function sagaRoutes(
  app: FastifyInstance,
  { db }: Pick<ServiceDeps<SagaDb, {}, SagaEvents>, "db">,
): void {
  app.get("/sagas/:orderId", async (req, reply) => {
    const { orderId } = SagaParams.parse(req.params);
    const saga = orderId.length <= 128 ? await readSaga(db, orderId) : undefined;
    return saga ?? reply.code(404).send({ error: `unknown saga ${orderId}` });
  });
}

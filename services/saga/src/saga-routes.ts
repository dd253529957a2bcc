import type { SagaEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import { NotFoundBody, type ServiceDeps, type ZodTypeProvider } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SagaDb } from "./migrations.js";
import { readSaga } from "./saga-store.js";

/** NUL or a lone surrogate is a 400 naming orderId; any other id is looked up (404 if unknown). */
const SagaParams = z.object({
  orderId: SafeString.meta({ examples: ["0193a5c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d"] }),
});
const SagaStatus = z.enum(["AWAITING", "APPROVED", "CONFIRMED", "COMPENSATING", "CANCELLED"]);
const Steps = z.object({
  inventory: z.enum(["PENDING", "RESERVED", "REJECTED", "TIMED_OUT", "RELEASE_REQUESTED", "RELEASED"]),
  payment: z.enum(["PENDING", "CHARGED", "DECLINED", "TIMED_OUT", "REFUND_REQUESTED", "REFUNDED"]),
});
const Saga = z.object({
  orderId: z.string(),
  state: SagaStatus,
  steps: Steps,
  reason: z.string().optional(),
  order: z.object({ customerId: z.string(), totalCents: z.number().int(), currency: z.string() }).optional(),
  deadlineAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  history: z
    .array(
      z.object({
        at: z.iso.datetime(),
        event: z.string(),
        from: SagaStatus,
        to: SagaStatus,
        steps: Steps,
        sent: z.array(z.string()).readonly(),
      }),
    )
    .readonly(),
});

/** `GET /sagas/:orderId`: state, steps and every transition; 404 when the saga is unknown. */
export function sagaRoutes(
  app: FastifyInstance,
  { db }: Pick<ServiceDeps<SagaDb, {}, SagaEvents>, "db">,
): void {
  const schema = { params: SagaParams, response: { 200: Saga, 404: NotFoundBody } };
  app.withTypeProvider<ZodTypeProvider>().get("/sagas/:orderId", { schema }, async (req, reply) => {
    const { orderId } = req.params;
    const saga = orderId.length <= 128 ? await readSaga(db, orderId) : undefined;
    return saga ?? reply.code(404).send({ error: `unknown saga ${orderId}` });
  });
}

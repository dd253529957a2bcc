import type { OrderEvents } from "@orderflow/contracts";
import { newEventId, SafeString } from "@orderflow/events";
import type { ServiceDeps } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { CreateOrderRequest, IdempotencyHeaders } from "./create-order.js";
import type { OrderDb } from "./migrations.js";
import { placeOrder, readOrder } from "./order-store.js";

/** NUL or a lone surrogate is a 400 naming orderId; any other id is looked up (404 if unknown). */
const OrderParams = z.object({ orderId: SafeString });

export interface OrderRoutesOptions {
  /** Order ids; UUIDv7 by default. */
  readonly newId?: () => string;
}

/**
 * `POST /orders` and `GET /orders/:orderId`. Validation errors are thrown as ZodErrors: the
 * runtime answers them 400 `{error, issues:[{path, message}]}`.
 */
export function orderRoutes(
  app: FastifyInstance,
  { db, outbox, now }: Pick<ServiceDeps<OrderDb, {}, OrderEvents>, "db" | "outbox" | "now">,
  { newId = newEventId }: OrderRoutesOptions = {},
): void {
  app.post("/orders", async (req, reply) => {
    // Node joins repeated headers with ", ": two keys would silently become a third.
    const keys = req.raw.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === "idempotency-key");
    if (keys.length > 1) {
      return reply.code(400).send({
        error: "invalid request",
        issues: [{ path: "idempotency-key", message: "must be sent once" }],
      });
    }
    const { "idempotency-key": idempotencyKey } = IdempotencyHeaders.parse(req.headers);
    const body = CreateOrderRequest.parse(req.body);
    const result = await placeOrder(db, body, { outbox, now, newId, idempotencyKey });
    switch (result.kind) {
      case "created":
        return reply.code(201).send({ orderId: result.orderId, status: result.status });
      case "replayed":
        return reply
          .code(201)
          .header("idempotent-replayed", "true")
          .send({ orderId: result.orderId, status: result.status });
      case "key-reused":
        return reply.code(422).send({
          error: "Idempotency-Key was already used with a different request body",
          issues: [{ path: "idempotency-key", message: "already used with a different request body" }],
        });
      default: {
        const never: never = result;
        return never;
      }
    }
  });

  app.get("/orders/:orderId", async (req, reply) => {
    const { orderId } = OrderParams.parse(req.params);
    return (await readOrder(db, orderId)) ?? reply.code(404).send({ error: `unknown order ${orderId}` });
  });
}

import type { OrderEvents } from "@orderflow/contracts";
import { newEventId, SafeString } from "@orderflow/events";
import type { ServiceDeps } from "@orderflow/host";
import rateLimit from "@fastify/rate-limit";
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
  /** `POST /orders` per client address per minute; undefined: no limit. */
  readonly ratePerMinute?: number | undefined;
}

/**
 * `POST /orders` (priced from the price list, rate-limited per client address) and
 * `GET /orders/:orderId`. Validation errors are thrown as ZodErrors: the
 * runtime answers them 400 `{error, issues:[{path, message}]}`.
 */
export async function orderRoutes(
  app: FastifyInstance,
  { db, outbox, now }: Pick<ServiceDeps<OrderDb, {}, OrderEvents>, "db" | "outbox" | "now">,
  { newId = newEventId, ratePerMinute }: OrderRoutesOptions = {},
): Promise<void> {
  // Only routes that ask for it are limited; the plugin answers 429 with Retry-After by throwing an
  // error with statusCode 429, which the host renders as `{error, issues: []}`.
  await app.register(rateLimit, { global: false });
  const limit = ratePerMinute === undefined ? false : { max: ratePerMinute, timeWindow: 60_000 };
  app.post("/orders", { config: { rateLimit: limit } }, async (req, reply) => {
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
      case "invalid":
        return reply.code(400).send({ error: "invalid request", issues: result.issues });
      case "price-mismatch":
        return reply.code(409).send({
          error: "a stated unit price is not the listed price; omit it or GET /prices/:sku",
          issues: result.issues,
        });
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

import type { OrderEvents } from "@orderflow/contracts";
import { newEventId, SafeString } from "@orderflow/events";
import { ErrorBody, NotFoundBody, type ServiceDeps, type ZodTypeProvider } from "@orderflow/host";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { CreateOrderRequest, IdempotencyHeaders } from "./create-order.js";
import type { OrderDb } from "./migrations.js";
import { placeOrder, readOrder } from "./order-store.js";

/** NUL or a lone surrogate is a 400 naming orderId; any other id is looked up (404 if unknown). */
const OrderParams = z.object({
  orderId: SafeString.meta({ examples: ["0193a5c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d"] }),
});
const OrderStatus = z.enum(["PENDING", "CONFIRMED", "CANCELLED"]);
const OrderCreated = z.object({ orderId: z.string(), status: z.literal("PENDING") });
const OrderView = z.object({
  orderId: z.string(),
  customerId: z.string(),
  status: OrderStatus,
  reason: z.string().optional(),
  items: z
    .array(z.object({ sku: z.string(), quantity: z.number().int(), unitPriceCents: z.number().int() }))
    .readonly(),
  totalCents: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export interface OrderRoutesOptions {
  /** Order ids; UUIDv7 by default. */
  readonly newId?: () => string;
  /** `POST /orders` per client address per minute; undefined: no limit. */
  readonly ratePerMinute?: number | undefined;
}

/**
 * `POST /orders` (priced from the price list, rate-limited per client address) and
 * `GET /orders/:orderId`. The host validates params, headers and body with the schemas below (400
 * `{error, issues:[{path, message}]}`) and documents them in `GET /openapi.json`.
 */
export async function orderRoutes(
  app: FastifyInstance,
  { db, outbox, now }: Pick<ServiceDeps<OrderDb, {}, OrderEvents>, "db" | "outbox" | "now">,
  { newId = newEventId, ratePerMinute }: OrderRoutesOptions = {},
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Only routes that ask for it are limited; the plugin answers 429 with Retry-After by throwing an
  // error with statusCode 429, which the host renders as `{error, issues: []}`.
  await app.register(rateLimit, { global: false });
  const limit = ratePerMinute === undefined ? false : { max: ratePerMinute, timeWindow: 60_000 };
  const postSchema = {
    // Loose: the validated headers replace the request's, which must keep every other header.
    headers: IdempotencyHeaders.loose(),
    body: CreateOrderRequest.meta({
      examples: [{ customerId: "customer-1", items: [{ sku: "SKU-1", quantity: 2 }] }],
    }),
    response: {
      201: OrderCreated.describe(
        "created, or replayed for a repeated Idempotency-Key (Idempotent-Replayed: true)",
      ),
      400: ErrorBody.describe(
        "invalid request, or an SKU without a listed price: the issues name each field",
      ),
      409: ErrorBody.describe("a stated unit price is not the listed price"),
      422: ErrorBody.describe("the Idempotency-Key was used with another body"),
      429: ErrorBody.describe("over the rate limit per client address; Retry-After says when to retry"),
    },
  };
  api.post(
    "/orders",
    { config: { rateLimit: limit }, schema: postSchema, preValidation: onlyOneKey },
    async (req, reply) => {
      const { "idempotency-key": idempotencyKey } = req.headers;
      const body = req.body;
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
    },
  );

  const getSchema = { params: OrderParams, response: { 200: OrderView, 404: NotFoundBody } };
  api.get("/orders/:orderId", { schema: getSchema }, async (req, reply) => {
    const { orderId } = req.params;
    return (await readOrder(db, orderId)) ?? reply.code(404).send({ error: `unknown order ${orderId}` });
  });
}

/** Node joins repeated headers with ", ": two keys would silently become a third. */
async function onlyOneKey(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const keys = req.raw.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === "idempotency-key");
  if (keys.length > 1)
    await reply.code(400).send({
      error: "invalid request",
      issues: [{ path: "idempotency-key", message: "must be sent once" }],
    });
}

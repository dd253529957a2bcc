import { createHash } from "node:crypto";
import { SafeString } from "@orderflow/events";
import { z } from "zod";

/**
 * Quantity and price bounds match `order.created`'s schema. The unit price is optional: the price
 * list sets it; a client that states one is refused when it is not the listed one.
 */
const OrderLineRequest = z.object({
  sku: SafeString.min(1).max(64),
  quantity: z.number().int().positive().max(1_000_000),
  unitPriceCents: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** The body of `POST /orders`. Unknown keys are dropped. */
export const CreateOrderRequest = z.object({
  customerId: SafeString.min(1).max(64),
  items: z.array(OrderLineRequest).min(1).max(100),
});
export type CreateOrderRequest = z.infer<typeof CreateOrderRequest>;

/** The optional `Idempotency-Key` request header (Fastify lower-cases header names). */
export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1, "Idempotency-Key must not be empty")
    .max(255, "Idempotency-Key must be at most 255 characters")
    .optional(),
});

/**
 * A fingerprint of the validated request as sent (not as priced): keys in schema order and unknown
 * keys dropped, so formatting and key order do not matter, while any change of customer, line, order
 * of lines or stated amount does.
 */
export const requestHash = (req: CreateOrderRequest): string =>
  createHash("sha256")
    .update(
      JSON.stringify({
        customerId: req.customerId,
        items: req.items.map(({ sku, quantity, unitPriceCents }) => ({ sku, quantity, unitPriceCents })),
      }),
    )
    .digest("hex");

import { createHash } from "node:crypto";
import { SafeString } from "@orderflow/events";
import { z } from "zod";
import { totalOf } from "./order-decider.js";

/** Quantity and price bounds match `order.created`'s schema, so a valid request always encodes. */
const OrderLineRequest = z.object({
  sku: SafeString.min(1).max(64),
  quantity: z.number().int().positive().max(1_000_000),
  unitPriceCents: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

/** The body of `POST /orders`. Unknown keys are dropped. */
export const CreateOrderRequest = z
  .object({
    customerId: SafeString.min(1).max(64),
    items: z.array(OrderLineRequest).min(1).max(100),
  })
  .superRefine((order, ctx) => {
    if (!Number.isSafeInteger(totalOf(order.items))) {
      ctx.addIssue({
        code: "custom",
        path: ["items"],
        message: "order total exceeds the largest supported amount",
      });
    }
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
 * A fingerprint of the validated request: keys in schema order and unknown keys dropped, so
 * formatting and key order do not matter, while any change of customer, line, order of lines or
 * amount does.
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

import { createHash } from "node:crypto";
import { newEventId } from "@orderflow/events";
import type { ServiceDeps } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import { sql, type Kysely } from "kysely";
import { z } from "zod";
import { totalOf } from "./decide.js";
import type { OrderDb } from "./migrations.js";

export const CreateOrder = z.object({
  customerId: z.string().min(1).max(64),
  items: z
    .array(
      z.object({
        sku: z.string().min(1).max(64),
        quantity: z.number().int().positive().max(1_000_000),
        unitPriceCents: z.number().int().nonnegative().max(1_000_000_000),
      }),
    )
    .min(1)
    .max(100),
});
const Params = z.object({ orderId: z.string() });
const IdempotencyKey = z.string().min(1).max(200).optional();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CURRENCY = "USD";

async function read(db: Kysely<OrderDb>, id: string) {
  const o = await db.selectFrom("orders").selectAll().where("id", "=", id).executeTakeFirst();
  return (
    o && {
      orderId: o.id,
      customerId: o.customer_id,
      status: o.status,
      ...(o.reason ? { reason: o.reason } : {}),
      items: o.items,
      totalCents: Number(o.total_cents),
      createdAt: o.created_at.toISOString(),
      updatedAt: o.updated_at.toISOString(),
    }
  );
}

export function routes(app: FastifyInstance, { db, outbox, now }: ServiceDeps<OrderDb>): void {
  app.post("/orders", async (req, reply) => {
    const body = CreateOrder.parse(req.body);
    const key = IdempotencyKey.parse(req.headers["idempotency-key"]);
    const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    const result = await db.transaction().execute(async (trx) => {
      const orderId = newEventId();
      if (key) {
        // A concurrent request with the same key waits here on the unique index until ours commits.
        const claimed = await sql<{ order_id: string }>`
          INSERT INTO idempotency_keys (key, order_id, request_hash) VALUES (${key}, ${orderId}, ${hash})
          ON CONFLICT (key) DO NOTHING RETURNING order_id`.execute(trx);
        if (!claimed.rows.length) {
          const existing = await trx.selectFrom("idempotency_keys").selectAll().where("key", "=", key).executeTakeFirstOrThrow();
          return existing.request_hash === hash ? { orderId: existing.order_id } : { conflict: true as const };
        }
      }
      const at = now();
      const totalCents = totalOf(body.items);
      await trx
        .insertInto("orders")
        .values({
          id: orderId,
          customer_id: body.customerId,
          status: "PENDING",
          reason: null,
          items: JSON.stringify(body.items) as never,
          total_cents: totalCents,
          currency: CURRENCY,
          created_at: at,
          updated_at: at,
        })
        .execute();
      await outbox.enqueue(
        trx,
        "order.created",
        { orderId, customerId: body.customerId, items: body.items, totalCents, currency: CURRENCY },
        { correlationId: orderId },
      );
      return { orderId };
    });
    if ("conflict" in result) {
      return reply.code(422).send({ error: "Idempotency-Key was already used with a different request body" });
    }
    const order = await read(db, result.orderId);
    return reply.code(201).send({ orderId: result.orderId, status: order?.status ?? "PENDING" });
  });

  app.get("/orders/:orderId", async (req, reply) => {
    const { orderId } = Params.parse(req.params);
    const order = UUID.test(orderId) ? await read(db, orderId) : undefined;
    return order ?? reply.code(404).send({ error: `unknown order ${orderId}` });
  });
}

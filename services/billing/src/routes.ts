import type { ServiceDeps } from "@orderflow/outbox";
import type { FastifyInstance } from "fastify";
import { sql, type Kysely } from "kysely";
import { z } from "zod";
import type { BillingDb } from "./migrations.js";
import { applyOwnEvent } from "./store.js";

const Params = z.object({ customerId: z.string().min(1).max(64) });
const Body = z.object({ balanceCents: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) });

async function read(db: Kysely<BillingDb>, customerId: string) {
  const row = await db.selectFrom("accounts").selectAll().where("customer_id", "=", customerId).executeTakeFirst();
  return row && { customerId: row.customer_id, balanceCents: Number(row.balance_cents) };
}

export function routes(app: FastifyInstance, { db, outbox }: ServiceDeps<BillingDb>): void {
  app.get("/accounts/:customerId", async (req, reply) => {
    const { customerId } = Params.parse(req.params);
    const account = await read(db, customerId);
    return account ?? reply.code(404).send({ error: `unknown customer ${customerId}` });
  });

  // Sets the balance; published as account.balance.set so the state can be rebuilt from events.
  app.put("/accounts/:customerId", async (req) => {
    const { customerId } = Params.parse(req.params);
    const { balanceCents } = Body.parse(req.body);
    await db.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM accounts WHERE customer_id = ${customerId} FOR UPDATE`.execute(trx);
      const event = { name: "account.balance.set", data: { customerId, balanceCents } } as const;
      await applyOwnEvent(trx, event);
      await outbox.enqueue(trx, event.name, event.data, { correlationId: customerId });
    });
    return read(db, customerId);
  });
}

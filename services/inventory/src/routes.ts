import type { FastifyInstance } from "fastify";
import { sql, type Kysely } from "kysely";
import type { ServiceDeps } from "@orderflow/outbox";
import { z } from "zod";
import type { InventoryDb } from "./migrations.js";
import { applyOwnEvent } from "./store.js";

const Params = z.object({ sku: z.string().min(1).max(64) });
const Body = z.object({ available: z.number().int().nonnegative().max(1_000_000_000) });

async function read(db: Kysely<InventoryDb>, sku: string) {
  return db.selectFrom("stock").select(["sku", "available", "reserved"]).where("sku", "=", sku).executeTakeFirst();
}

export function routes(app: FastifyInstance, { db, outbox }: ServiceDeps<InventoryDb>): void {
  app.get("/stock/:sku", async (req, reply) => {
    const { sku } = Params.parse(req.params);
    const row = await read(db, sku);
    return row ? row : reply.code(404).send({ error: `unknown sku ${sku}` });
  });

  // Sets what is available to sell; reservations in flight are untouched. Published as stock.set.
  app.put("/stock/:sku", async (req) => {
    const { sku } = Params.parse(req.params);
    const { available } = Body.parse(req.body);
    await db.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM stock WHERE sku = ${sku} FOR UPDATE`.execute(trx);
      const event = { name: "stock.set", data: { sku, available } } as const;
      await applyOwnEvent(trx, event);
      await outbox.enqueue(trx, event.name, event.data, { correlationId: sku });
    });
    return read(db, sku);
  });
}


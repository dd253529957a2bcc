import type { InventoryEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import type { ServiceDeps } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { decide, isPublished } from "./inventory-decider.js";
import { loadInventory, lockSku, persist, readStock, type StockView } from "./inventory-store.js";
import type { InventoryDb } from "./migrations.js";

/** SKUs as orders carry them (`order.created` caps them at 64 characters). */
const Sku = SafeString.min(1).max(64);
const StockParams = z.object({ sku: Sku });
/** Bounded so that stock fits its integer column with room for what is reserved. */
const SetStockBody = z.object({ available: z.number().int().nonnegative().max(1_000_000_000) });

/**
 * `GET /stock/:sku` and `PUT /stock/:sku` (operator only). A PUT sets what is available to sell (reservations in
 * flight keep their stock) and publishes `stock.set`, unless the value is already that.
 */
export function stockRoutes(
  app: FastifyInstance,
  { db, outbox }: Pick<ServiceDeps<InventoryDb, {}, InventoryEvents>, "db" | "outbox">,
): void {
  app.get("/stock/:sku", async (req, reply) => {
    const { sku } = StockParams.parse(req.params);
    return (await readStock(db, sku)) ?? reply.code(404).send({ error: `unknown sku ${sku}` });
  });

  app.put("/stock/:sku", { config: { operator: true } }, async (req): Promise<StockView> => {
    const { sku } = StockParams.parse(req.params);
    const { available } = SetStockBody.parse(req.body);
    return db.transaction().execute(async (trx) => {
      await lockSku(trx, sku);
      const before = await loadInventory(trx, { skus: [sku] });
      const events = decide({ name: "set-stock", data: { sku, available } }, before);
      const after = await persist(trx, before, events);
      for (const e of events) {
        if (isPublished(e)) await outbox.enqueue(trx, e.name, e.data, { correlationId: sku });
      }
      const level = after.stock.get(sku) ?? { available, reserved: 0 };
      return { sku, available: level.available, reserved: level.reserved };
    });
  });
}

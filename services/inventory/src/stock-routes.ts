import type { InventoryEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import { NotFoundBody, type ServiceDeps, type ZodTypeProvider } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { decide, isPublished } from "./inventory-decider.js";
import { loadInventory, lockSku, persist, readStock, type StockView } from "./inventory-store.js";
import type { InventoryDb } from "./migrations.js";

/** SKUs as orders carry them (`order.created` caps them at 64 characters). */
const Sku = SafeString.min(1)
  .max(64)
  .meta({ examples: ["SKU-1"] });
const StockParams = z.object({ sku: Sku });
/** Bounded so that stock fits its integer column with room for what is reserved. */
const SetStockBody = z.object({
  available: z
    .number()
    .int()
    .nonnegative()
    .max(1_000_000_000)
    .meta({ examples: [100] }),
});
const Stock = z.object({ sku: z.string(), available: z.number().int(), reserved: z.number().int() });

/**
 * `GET /stock/:sku` and `PUT /stock/:sku` (operator only). A PUT sets what is available to sell (reservations in
 * flight keep their stock) and publishes `stock.set`, unless the value is already that.
 */
export function stockRoutes(
  app: FastifyInstance,
  { db, outbox }: Pick<ServiceDeps<InventoryDb, {}, InventoryEvents>, "db" | "outbox">,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const getSchema = { params: StockParams, response: { 200: Stock, 404: NotFoundBody } };
  api.get("/stock/:sku", { schema: getSchema }, async (req, reply) => {
    const { sku } = req.params;
    return (await readStock(db, sku)) ?? reply.code(404).send({ error: `unknown sku ${sku}` });
  });

  const putSchema = { params: StockParams, body: SetStockBody, response: { 200: Stock } };
  api.put(
    "/stock/:sku",
    { config: { operator: true }, schema: putSchema },
    async (req): Promise<StockView> => {
      const { sku } = req.params;
      const { available } = req.body;
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
    },
  );
}

import type { OrderEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import { NotFoundBody, type ServiceDeps, type ZodTypeProvider } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { OrderDb } from "./migrations.js";
import { readPrice, setPrice, type PriceView } from "./price-store.js";

/** SKUs as orders carry them (`order.created` caps them at 64 characters). */
const PriceParams = z.object({
  sku: SafeString.min(1)
    .max(64)
    .meta({ examples: ["SKU-1"] }),
});
/** Bounded like a line's price in `order.created`. */
const SetPriceBody = z.object({
  unitPriceCents: z
    .number()
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER)
    .meta({ examples: [1250] }),
});
const Price = z.object({ sku: z.string(), unitPriceCents: z.number().int() });

/**
 * `GET /prices/:sku` (public) and `PUT /prices/:sku` (operator only): the price list `POST /orders`
 * takes every line's unit price from. A change applies to orders placed after it, and publishes
 * `price.set` (a PUT of the price already listed changes and publishes nothing).
 */
export function priceRoutes(
  app: FastifyInstance,
  { db, outbox }: Pick<ServiceDeps<OrderDb, {}, OrderEvents>, "db" | "outbox">,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const getSchema = { params: PriceParams, response: { 200: Price, 404: NotFoundBody } };
  api.get("/prices/:sku", { schema: getSchema }, async (req, reply) => {
    const { sku } = req.params;
    return (await readPrice(db, sku)) ?? reply.code(404).send({ error: `unknown sku ${sku}` });
  });

  const putSchema = { params: PriceParams, body: SetPriceBody, response: { 200: Price } };
  api.put(
    "/prices/:sku",
    { config: { operator: true }, schema: putSchema },
    async (req): Promise<PriceView> => {
      const { sku } = req.params;
      const { unitPriceCents } = req.body;
      await db.transaction().execute(async (trx) => {
        if (await setPrice(trx, { sku, unitPriceCents }))
          await outbox.enqueue(trx, "price.set", { sku, unitPriceCents }, { correlationId: sku });
      });
      return { sku, unitPriceCents };
    },
  );
}

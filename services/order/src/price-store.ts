import { sql, type Kysely } from "kysely";
import type { OrderDb } from "./migrations.js";

export interface PriceView {
  readonly sku: string;
  readonly unitPriceCents: number;
}

/** The listed unit prices of `skus` (one indexed read); SKUs without a price are absent. */
export async function readPrices(db: Kysely<OrderDb>, skus: readonly string[]): Promise<Map<string, number>> {
  // One statement text whatever the number of SKUs, so it stays one prepared statement.
  const rows = await db
    .selectFrom("prices")
    .select(["sku", "unit_price_cents"])
    .where(sql<boolean>`sku = ANY(${[...new Set(skus)]}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.sku, Number(r.unit_price_cents)]));
}

/** The price of one SKU as `GET /prices/:sku` answers; undefined if it has none. */
export async function readPrice(db: Kysely<OrderDb>, sku: string): Promise<PriceView | undefined> {
  const unitPriceCents = (await readPrices(db, [sku])).get(sku);
  return unitPriceCents === undefined ? undefined : { sku, unitPriceCents };
}

/** Lists `sku` at `unitPriceCents` (new or changed); whether that changed anything. */
export async function setPrice(db: Kysely<OrderDb>, price: PriceView): Promise<boolean> {
  const changed = await db
    .insertInto("prices")
    .values({ sku: price.sku, unit_price_cents: price.unitPriceCents })
    .onConflict((oc) =>
      oc
        .column("sku")
        .doUpdateSet({ unit_price_cents: price.unitPriceCents })
        .where(sql<boolean>`prices.unit_price_cents <> excluded.unit_price_cents`),
    )
    .returning("sku")
    .executeTakeFirst();
  return changed !== undefined;
}

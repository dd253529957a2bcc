import type { OrderLineRow } from "./migrations.js";
import { totalOf } from "./order-decider.js";

/** A request line: the client may state the unit price it expects. */
export interface RequestedLine {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPriceCents?: number | undefined;
}

export interface PriceIssue {
  readonly path: string;
  readonly message: string;
}

export type Pricing =
  | { readonly kind: "priced"; readonly items: OrderLineRow[]; readonly totalCents: number }
  /** An unknown SKU or a total past the largest amount: a bad request (400). */
  | { readonly kind: "invalid"; readonly issues: PriceIssue[] }
  /** A stated price that is not the listed one: the client's view is stale (409). */
  | { readonly kind: "price-mismatch"; readonly issues: PriceIssue[] };

/**
 * Prices an order from the list (`listed`: unit price by SKU): every line takes the listed price;
 * an unknown SKU makes the order invalid, a stated price that differs from the listed one makes it
 * conflict. Unknown SKUs are reported first (all of them), then mismatches (all of them).
 */
export function priceOrder(lines: readonly RequestedLine[], listed: ReadonlyMap<string, number>): Pricing {
  const unknown: PriceIssue[] = [];
  const mismatched: PriceIssue[] = [];
  const items: OrderLineRow[] = [];
  for (const [i, { sku, quantity, unitPriceCents: stated }] of lines.entries()) {
    const price = listed.get(sku);
    if (price === undefined) {
      unknown.push({ path: `items.${i}.sku`, message: `unknown sku ${sku}: it has no price` });
      continue;
    }
    if (stated !== undefined && stated !== price)
      mismatched.push({
        path: `items.${i}.unitPriceCents`,
        message: `${sku} is listed at ${price}, not ${stated}`,
      });
    items.push({ sku, quantity, unitPriceCents: price });
  }
  if (unknown.length) return { kind: "invalid", issues: unknown };
  if (mismatched.length) return { kind: "price-mismatch", issues: mismatched };
  const totalCents = totalOf(items);
  if (!Number.isSafeInteger(totalCents))
    return {
      kind: "invalid",
      issues: [{ path: "items", message: "order total exceeds the largest supported amount" }],
    };
  return { kind: "priced", items, totalCents };
}

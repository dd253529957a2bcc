import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { RelayOptions } from "../src/index.js";
import type { AnyDb, Outbox } from "../src/index.js";
import type { StoredMessage } from "./fixture.js";

export const order = (i: number) => ({
  orderId: `o-${i}`,
  customerId: "c-1",
  items: [{ sku: "s", quantity: 1, unitPriceCents: 100 }],
  totalCents: 100,
  currency: "USD",
});

/** `n` order.created events, each in its own transaction; returns their ids in commit order. */
export async function enqueueOrders(db: AnyDb, outbox: Outbox, n: number, from = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    ids.push(
      await db
        .transaction()
        .execute((trx) => outbox.enqueue(trx, "order.created", order(i), { correlationId: `o-${i}` })),
    );
  }
  return ids;
}

/**
 * `rounds` transactions, each with one stock.set per sku: event k of an aggregate (sku) carries
 * `available = k`, so the stream order of one aggregate can be checked from the data alone.
 */
export async function enqueueStock(
  db: AnyDb,
  outbox: Outbox,
  skus: number,
  rounds: number,
  fromRound = 0,
): Promise<number> {
  for (let k = fromRound; k < fromRound + rounds; k++) {
    await db.transaction().execute(async (trx) => {
      for (let s = 0; s < skus; s++)
        await outbox.enqueue(trx, "stock.set", { sku: `sku-${s}`, available: k });
    });
  }
  return skus * rounds;
}

/** The `available` values per aggregate in stream order; each list must be 0, 1, 2, … */
export function stockSequences(messages: readonly StoredMessage[]): Map<string, number[]> {
  const byAggregate = new Map<string, number[]>();
  for (const m of messages) {
    const list = byAggregate.get(m.aggregate) ?? [];
    list.push((m.data as { available: number }).available);
    byAggregate.set(m.aggregate, list);
  }
  return byAggregate;
}

/** The relay's client, observed: counts the PubAcks JetStream flagged as duplicates. */
export function countingDuplicates(js: JetStreamClient): {
  js: RelayOptions["js"];
  duplicates: () => number;
  acks: () => number;
} {
  let duplicates = 0;
  let acks = 0;
  return {
    js: {
      publish: (subject, payload, opts) =>
        js.publish(subject, payload, opts).then((ack: PubAck) => {
          acks++;
          if (ack.duplicate) duplicates++;
          return ack;
        }),
    },
    duplicates: () => duplicates,
    acks: () => acks,
  };
}

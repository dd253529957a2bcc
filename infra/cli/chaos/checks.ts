/**
 * The chaos run's verdict, Jepsen-style: what the client was told (accepted orders), what the
 * streams hold and what the services answer after quiescence, checked against the invariants.
 * Pure: the run gathers the history, this only judges it.
 */

export interface PlacedOrder {
  readonly key: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly totalCents: number;
}

export interface FinalOrder {
  /** undefined: the order service answered 404. */
  readonly status: string | undefined;
  readonly reason?: string;
}

/** One message of a business stream, as the headers name it. */
export interface StreamEvent {
  readonly stream: string;
  readonly id: string;
  /** The event's name, e.g. `order.created` (ce-type without prefix and version). */
  readonly name: string;
  /** ce-subject: the aggregate (the order id for every event of this flow). */
  readonly subject: string;
}

export interface DeadLetterSeen {
  readonly consumer: string;
  readonly type: string | undefined;
  readonly reason: string;
}

export interface History {
  readonly accepted: readonly PlacedOrder[];
  /** Keys whose POST was never answered with an order id, even after healing. */
  readonly unresolved: readonly string[];
  /** Keys re-posted on purpose that came back with a different order id than the first answer. */
  readonly retryMismatches: readonly string[];
  readonly finalOrders: ReadonlyMap<string, FinalOrder>;
  readonly events: readonly StreamEvent[];
  readonly stock: {
    readonly initial: ReadonlyMap<string, number>;
    readonly final: ReadonlyMap<string, Stock>;
  };
  readonly balances: {
    readonly initial: ReadonlyMap<string, number>;
    readonly final: ReadonlyMap<string, number>;
  };
  readonly deadLetters: readonly DeadLetterSeen[];
}

export interface Stock {
  readonly available: number;
  readonly reserved: number;
}

export interface Verdict {
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  readonly lost: number;
  readonly doubled: number;
  /** Every violation, one line each; empty when the run passed. */
  readonly violations: readonly string[];
}

const TERMINAL = new Set(["order.confirmed", "order.cancelled"]);

export function judge(h: History): Verdict {
  const violations: string[] = [];
  let lost = 0;
  let doubled = 0;

  // Doubled: an event id stored twice in one stream, an order with two outcomes or two creations.
  const seen = new Set<string>();
  for (const e of h.events) {
    const k = `${e.stream}/${e.id}`;
    if (seen.has(k)) {
      doubled++;
      violations.push(`doubled: ${e.stream} holds event ${e.id} (${e.name}) more than once`);
    }
    seen.add(k);
  }
  const created = new Map<string, number>();
  const outcomes = new Map<string, string[]>();
  for (const e of h.events) {
    if (e.name === "order.created") created.set(e.subject, (created.get(e.subject) ?? 0) + 1);
    if (TERMINAL.has(e.name)) outcomes.set(e.subject, [...(outcomes.get(e.subject) ?? []), e.name]);
  }
  for (const key of h.retryMismatches) {
    doubled++;
    violations.push(`doubled: idempotency key ${key} answered with two order ids`);
  }
  const acceptedIds = new Set(h.accepted.map((o) => o.orderId));
  for (const [orderId, n] of created) {
    if (n > 1) {
      doubled++;
      violations.push(`doubled: order ${orderId} has ${n} order.created events with different ids`);
    }
    if (!acceptedIds.has(orderId))
      violations.push(`order ${orderId} is in the stream but no client placed it`);
  }

  // Lost: an accepted order that is not terminal, not in the stream, or has no outcome event.
  let confirmed = 0;
  let cancelled = 0;
  for (const o of h.accepted) {
    const final = h.finalOrders.get(o.orderId);
    const out = outcomes.get(o.orderId) ?? [];
    if (!final?.status || final.status === "PENDING") {
      lost++;
      violations.push(`lost: order ${o.orderId} is ${final?.status ?? "unknown (404)"} after quiescence`);
      continue;
    }
    if (!created.has(o.orderId)) {
      lost++;
      violations.push(`lost: order ${o.orderId} has no order.created in the stream`);
    }
    if (out.length === 0) {
      lost++;
      violations.push(`lost: order ${o.orderId} is ${final.status} but no outcome event was published`);
    } else if (out.length > 1) {
      doubled++;
      violations.push(`doubled: order ${o.orderId} has outcomes ${out.join(", ")}`);
    } else if (`order.${final.status.toLowerCase()}` !== out[0]) {
      violations.push(`order ${o.orderId} is ${final.status} but its outcome event is ${out[0]}`);
    }
    if (final.status === "CONFIRMED") confirmed++;
    else cancelled++;
  }
  for (const key of h.unresolved) {
    lost++;
    violations.push(`lost: the POST with idempotency key ${key} never got an answer, even after healing`);
  }

  // Conservation: what left stock and accounts is exactly what confirmed orders took.
  const sold = new Map<string, number>();
  const spent = new Map<string, number>();
  for (const o of h.accepted) {
    if (h.finalOrders.get(o.orderId)?.status !== "CONFIRMED") continue;
    for (const i of o.items) sold.set(i.sku, (sold.get(i.sku) ?? 0) + i.quantity);
    spent.set(o.customerId, (spent.get(o.customerId) ?? 0) + o.totalCents);
  }
  for (const [sku, initial] of h.stock.initial) {
    const s = h.stock.final.get(sku);
    if (!s) {
      violations.push(`stock of ${sku} unreadable after quiescence`);
      continue;
    }
    if (s.reserved !== 0) violations.push(`stock: ${sku} still has ${s.reserved} reserved`);
    const want = initial - (sold.get(sku) ?? 0);
    if (s.available !== want)
      violations.push(`stock: ${sku} has ${s.available} available, conservation says ${want}`);
    if (s.available < 0) violations.push(`stock: ${sku} is negative (${s.available})`);
  }
  for (const [customer, initial] of h.balances.initial) {
    const b = h.balances.final.get(customer);
    if (b === undefined) {
      violations.push(`account ${customer} unreadable after quiescence`);
      continue;
    }
    const want = initial - (spent.get(customer) ?? 0);
    if (b !== want) violations.push(`money: ${customer} has ${b} cents, conservation says ${want}`);
    if (b < 0) violations.push(`money: ${customer} has a negative balance (${b})`);
  }

  for (const d of h.deadLetters)
    violations.push(`dead letter in ${d.consumer}: ${d.type ?? "undecodable"}: ${d.reason}`);

  return { orders: h.accepted.length, confirmed, cancelled, lost, doubled, violations };
}

/**
 * The chaos run's clients: a steady stream of orders (successes, out-of-stock, declines, and
 * idempotent retries of earlier orders) spread over every order-service instance. Every POST
 * carries an Idempotency-Key, so one that got no answer (a killed instance, a stopped database)
 * is asked again with the same key until it is answered: what the client was told is then exact.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import type { PlacedOrder } from "./checks.js";

/** What the run seeds before the load: plentiful SKUs, one scarce, rich customers, one poor. */
export const CATALOG = {
  prices: { "chaos-apple": 150, "chaos-pear": 250, "chaos-plum": 75, "chaos-rare": 900 } as Record<
    string,
    number
  >,
  stock: {
    "chaos-apple": 1_000_000,
    "chaos-pear": 1_000_000,
    "chaos-plum": 1_000_000,
    "chaos-rare": 25,
  } as Record<string, number>,
  balances: {
    "chaos-alice": 1_000_000_000,
    "chaos-bob": 1_000_000_000,
    "chaos-dan": 1_000_000_000,
    "chaos-poor": 2000,
  } as Record<string, number>,
};
const PLENTIFUL = ["chaos-apple", "chaos-pear", "chaos-plum"];
const RICH = ["chaos-alice", "chaos-bob", "chaos-dan"];
const POST_TIMEOUT_MS = 5000;

interface Body {
  readonly customerId: string;
  readonly items: { sku: string; quantity: number }[];
}

type Answer =
  | { readonly kind: "placed"; readonly orderId: string }
  | { readonly kind: "retry" }
  | { readonly kind: "refused"; readonly status: number; readonly body: string };

async function post(url: string, key: string, body: Body): Promise<Answer> {
  try {
    const res = await fetch(`${url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status === 201 || res.status === 200)
      return { kind: "placed", orderId: (JSON.parse(text) as { orderId: string }).orderId };
    // 503 (database unavailable), 502/504 and the like: not placed, or not known to be — ask again.
    if (res.status >= 500) return { kind: "retry" };
    return { kind: "refused", status: res.status, body: text };
  } catch {
    return { kind: "retry" }; // refused, reset or timed out: the order may or may not exist
  }
}

export class Workload {
  readonly placed = new Map<string, PlacedOrder>();
  /** Keys asked but not yet answered with an order id, with the body to ask again with. */
  readonly #pending = new Map<string, Body>();
  /** Of those, the ones whose last ask failed (not in flight): what `retryPending` asks again. */
  readonly #unanswered = new Set<string>();
  readonly retryMismatches: string[] = [];
  /** 4xx answers: with valid bodies, none is expected. */
  readonly refusals: string[] = [];
  readonly #rng: RandomGenerator;
  readonly #urls: () => readonly string[];
  readonly #inFlight = new Set<Promise<void>>();
  #n = 0;
  #retries = 0;

  constructor(opts: { rng: RandomGenerator; orderUrls: () => readonly string[] }) {
    this.#rng = opts.rng;
    this.#urls = opts.orderUrls;
  }

  get asked(): number {
    return this.#n;
  }

  get retried(): number {
    return this.#retries;
  }

  get unresolved(): string[] {
    return [...this.#pending.keys()];
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[uniformInt(this.#rng, 0, xs.length - 1)]!;
  }

  #nextBody(): Body {
    const roll = uniformInt(this.#rng, 1, 100);
    if (roll <= 10)
      return {
        customerId: this.#pick(RICH),
        items: [{ sku: "chaos-rare", quantity: 1 + uniformInt(this.#rng, 0, 2) }],
      };
    if (roll <= 20) return { customerId: "chaos-poor", items: [{ sku: this.#pick(PLENTIFUL), quantity: 3 }] };
    const lines = uniformInt(this.#rng, 1, 3);
    const skus = [...new Set(Array.from({ length: lines }, () => this.#pick(PLENTIFUL)))];
    return {
      customerId: this.#pick(RICH),
      items: skus.map((sku) => ({ sku, quantity: uniformInt(this.#rng, 1, 3) })),
    };
  }

  /** Starts one client action: a new order, or (one in ten, once there are orders) a deliberate retry. */
  tick(): void {
    const done = [...this.placed.values()];
    if (done.length > 0 && uniformInt(this.#rng, 1, 10) === 1) {
      const again = this.#pick(done);
      this.#track(this.#ask(again.key, { customerId: again.customerId, items: [...again.items] }, true));
      return;
    }
    const key = `chaos-${++this.#n}`;
    const body = this.#nextBody();
    this.#pending.set(key, body);
    this.#track(this.#ask(key, body, false));
  }

  /** Asks again, once, for every key still without an answer. */
  retryPending(): void {
    for (const key of this.#unanswered) {
      this.#unanswered.delete(key);
      this.#retries++;
      this.#track(this.#ask(key, this.#pending.get(key)!, false));
    }
  }

  /** Waits for the requests in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #ask(key: string, body: Body, deliberate: boolean): Promise<void> {
    const a = await post(this.#pick(this.#urls()), key, body);
    if (a.kind === "retry") {
      if (this.#pending.has(key)) this.#unanswered.add(key);
      return;
    }
    if (a.kind === "refused") {
      this.refusals.push(`${key}: ${a.status} ${a.body}`);
      this.#pending.delete(key);
      return;
    }
    const known = this.placed.get(key);
    if (known && known.orderId !== a.orderId) this.retryMismatches.push(key);
    if (!known && !deliberate) {
      const totalCents = body.items.reduce((t, i) => t + i.quantity * CATALOG.prices[i.sku]!, 0);
      this.placed.set(key, { key, orderId: a.orderId, ...body, totalCents });
    }
    this.#pending.delete(key);
  }
}

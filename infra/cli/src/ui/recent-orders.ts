import { setTimeout as sleep } from "node:timers/promises";
import {
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { AnyCatalog, IncomingMessage } from "@orderflow/events";
import type { Topology } from "@orderflow/outbox";
import { oneLine } from "../errors.js";
import type { OrderStatus, RecentOrder } from "./ops-api.js";

/**
 * The order system's events the page follows. The toolkit knows no order: the orders panel is there
 * only when the system's catalog has `order.created` (see `followsOrders`).
 */
const CREATED = "order.created";
const ENDED: Readonly<Record<string, OrderStatus>> = {
  "order.confirmed": "CONFIRMED",
  "order.cancelled": "CANCELLED",
};

/** Whether the system publishes the events the orders panel follows. */
export const followsOrders = (catalog: AnyCatalog): boolean =>
  catalog.has(CREATED) && Object.keys(ENDED).every((name) => catalog.has(name));

export type OrderFacts = Omit<RecentOrder, "saga">;

export interface RecentOrdersOptions {
  readonly js: Pick<JetStreamClient, "consumers">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  readonly topology: Topology;
  /** What the stream's messages decode with: the system's catalog. */
  readonly catalog: AnyCatalog;
  /** How many orders are kept, the newest. */
  readonly keep?: number;
  /** How far back the first read starts, in messages of the stream. */
  readonly lookBack?: number;
}

/**
 * The newest orders, followed live on the orders stream through an ordered consumer (no durable,
 * no acks; what a service reads is untouched): the page reads no service's tables. Started by
 * `start()`, which returns at once; a failure (NATS gone) is kept in `error` and the read resumes
 * after the last message seen.
 */
export class RecentOrders {
  readonly #opts: RecentOrdersOptions;
  readonly #stream: string;
  /** By order id, in the order they were created: the oldest first. */
  readonly #orders = new Map<string, OrderFacts>();
  readonly #stop = new AbortController();
  #messages: ConsumerMessages | undefined;
  #lastSeq = 0;
  #loop: Promise<void> | undefined;
  #error: string | undefined;

  constructor(opts: RecentOrdersOptions) {
    this.#opts = opts;
    const context = opts.catalog.get(CREATED)?.context ?? "orders";
    this.#stream = opts.topology.stream(context.toUpperCase());
  }

  start(): void {
    this.#loop ??= this.#follow();
  }

  /** The newest first. */
  list(): OrderFacts[] {
    return [...this.#orders.values()].reverse();
  }

  /** Why the stream cannot be read now; undefined while it is followed. */
  get error(): string | undefined {
    return this.#error;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#messages?.close();
    await this.#loop;
  }

  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const consumer = await this.#opts.js.consumers.get(this.#stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.#lastSeq ? this.#lastSeq + 1 : await this.#firstSeq(),
        });
        this.#messages = await consumer.consume({ max_messages: 500 });
        this.#error = undefined;
        for await (const m of this.#messages) {
          this.#lastSeq = m.seq;
          this.#apply(m);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#error = `orders: cannot read stream ${this.#stream}: ${oneLine(err)}`;
      }
      await sleep(1000, undefined, { signal }).catch(() => {});
    }
  }

  async #firstSeq(): Promise<number> {
    const { state } = await this.#opts.jsm.streams.info(this.#stream);
    return Math.max(state.first_seq, state.last_seq - (this.#opts.lookBack ?? 2000) + 1, 1);
  }

  #apply(m: IncomingMessage): void {
    const decoded = this.#opts.catalog.decode(m);
    if (!decoded.ok) return;
    const { name, time } = decoded.event;
    const data = decoded.event.data as Record<string, unknown>;
    const orderId = String(data.orderId);
    if (name === CREATED) {
      if (this.#orders.has(orderId)) return;
      this.#orders.set(orderId, {
        orderId,
        customerId: String(data.customerId),
        totalCents: Number(data.totalCents),
        currency: typeof data.currency === "string" ? data.currency : "",
        items: (data.items as { sku: string; quantity: number }[]).map(({ sku, quantity }) => ({
          sku,
          quantity,
        })),
        createdAt: time,
        status: "PENDING",
      });
      const keep = this.#opts.keep ?? 50;
      for (const id of this.#orders.keys()) {
        if (this.#orders.size <= keep) break;
        this.#orders.delete(id);
      }
      return;
    }
    const status = ENDED[name];
    const order = this.#orders.get(orderId);
    if (!status || !order) return;
    this.#orders.set(orderId, {
      ...order,
      status,
      ...(typeof data.reason === "string" ? { reason: data.reason } : {}),
    });
  }
}

import { DeadLetters, listConsumers, outboxStatus, type AnyDb } from "@orderflow/outbox";
import { oneLine } from "../errors.js";
import type { Broker } from "../recovery/context.js";
import type { OpsOverview, OutboxRow, RecentOrder, SagaTimeline } from "./ops-api.js";
import type { RecentOrders } from "./recent-orders.js";
import type { SagaTimelines } from "./saga-timelines.js";

/** How many dead letters the page lists (their total is shown too). */
const LETTERS_SHOWN = 50;

export interface OverviewOptions {
  readonly broker: Pick<Broker, "js" | "jsm" | "topology">;
  /** Each service's database, as the CLI opens it (see `serviceConfig`), for its outbox backlog. */
  readonly databases: readonly { readonly service: string; readonly db: AnyDb }[];
  /** Undefined when the system has no orders to follow. */
  readonly orders: RecentOrders | undefined;
  /** Undefined when the system has no saga service. */
  readonly sagas: SagaTimelines | undefined;
}

/**
 * Reads what the ops page shows, with the recovery commands' own functions (`orderflow consumers`,
 * `outbox`, `dlq list`). A part that fails is named in `errors`; the others are still answered.
 */
export async function readOverview(opts: OverviewOptions): Promise<OpsOverview> {
  const errors: string[] = [];
  const part = <T>(what: string, work: Promise<T>, fallback: T): Promise<T> =>
    work.catch((err: unknown) => {
      errors.push(`${what}: ${oneLine(err)}`);
      return fallback;
    });
  const { js, jsm, topology } = opts.broker;
  const dlq = new DeadLetters({ js, jsm, topology });
  const [consumers, outbox, total, letters, orders] = await Promise.all([
    part("consumers", listConsumers(jsm), []),
    Promise.all(opts.databases.map(({ service, db }) => backlogOf(service, db))),
    part(
      "dead letters",
      jsm.streams.info(topology.deadLetterStream).then((i) => i.state.messages),
      0,
    ),
    part("dead letters", dlq.list(LETTERS_SHOWN), []),
    recentOrders(opts, part),
  ]);
  if (opts.orders?.error) errors.push(opts.orders.error);
  return {
    at: new Date().toISOString(),
    orders,
    consumers: consumers.map(({ stream, consumer, pending, ackPending, redelivered, lag }) => ({
      stream,
      consumer,
      pending,
      ackPending,
      redelivered,
      lag,
    })),
    outbox,
    deadLetters: {
      total,
      letters: letters.map(({ id, time, consumer, code, reason, subject, deliveries, eventId }) => ({
        id,
        time,
        consumer,
        code,
        reason,
        subject,
        deliveries,
        eventId,
      })),
    },
    errors,
  };
}

async function backlogOf(service: string, db: AnyDb): Promise<OutboxRow> {
  try {
    const { backlog, oldestUnpublishedMs, retained } = await outboxStatus(db);
    return { service, backlog, oldestUnpublishedMs, retained };
  } catch (err) {
    return { service, error: oneLine(err) };
  }
}

/** The orders followed, each with its saga: without the saga service's answer, without their sagas. */
async function recentOrders(
  opts: OverviewOptions,
  part: <T>(what: string, work: Promise<T>, fallback: T) => Promise<T>,
): Promise<RecentOrder[] | null> {
  if (!opts.orders) return null;
  const orders = opts.orders.list();
  const sagas = opts.sagas
    ? await part("sagas", opts.sagas.read(orders.map((o) => o.orderId)), new Map<string, SagaTimeline>())
    : new Map<string, SagaTimeline>();
  return orders.map((o) => ({ ...o, saga: sagas.get(o.orderId) ?? null }));
}

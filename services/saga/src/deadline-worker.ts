import type { SagaEvents } from "@orderflow/contracts";
import { derivedEventId } from "@orderflow/events";
import { describeError, OutageLog } from "@orderflow/outbox";
import { type ServiceDeps, type Worker } from "@orderflow/host";
import type { SagaDb } from "./migrations.js";
import { applySagaInput } from "./saga-store.js";

export interface DeadlineWorkerOptions {
  readonly db: ServiceDeps<SagaDb, {}, SagaEvents>["db"];
  readonly outbox: ServiceDeps<SagaDb, {}, SagaEvents>["outbox"];
  readonly logger: ServiceDeps<SagaDb, {}, SagaEvents>["logger"];
  readonly now: () => Date;
  readonly deadlineMs: number;
  readonly tickMs: number;
  /** Sagas handled per transaction. */
  readonly batchSize?: number;
}

/**
 * Every `tickMs`, feeds the `deadline` input to the sagas still waiting for a reply past their deadline.
 * Instances share the work through `FOR UPDATE SKIP LOCKED`; commands get ids derived from the
 * order, so a tick re-run after a crash re-enqueues ids the outbox already holds.
 */
export function createDeadlineWorker(opts: DeadlineWorkerOptions): Worker & { tick(): Promise<number> } {
  const { db, outbox, logger, now } = opts;
  const batchSize = opts.batchSize ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> | undefined;
  let stopped = true;
  // Ticking every tickMs while the database is down: one line when it starts, a count once a minute.
  const outage = new OutageLog({ what: "saga deadline worker", logger });

  /** One pass; returns how many sagas it timed out. */
  const tick = (): Promise<number> =>
    db.transaction().execute(async (trx) => {
      const at = now();
      const due = await trx
        .selectFrom("sagas")
        .select(["order_id", "traceparent", "tracestate"])
        // Still waiting for a reply: AWAITING, or COMPENSATING the other step and waiting for this one
        // before asking to cancel. The predicate is the partial index's.
        .where((eb) => eb.or([eb("inventory", "=", "PENDING"), eb("payment", "=", "PENDING")]))
        .where("state", "in", ["AWAITING", "COMPENSATING"])
        .where("deadline_at", "<=", at)
        .orderBy("deadline_at")
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      for (const { order_id: orderId, traceparent, tracestate } of due) {
        const trace = { traceparent: traceparent ?? undefined, tracestate: tracestate ?? undefined };
        const t = await applySagaInput(
          trx,
          { name: "deadline", data: { orderId } },
          {
            now: at,
            deadlineMs: opts.deadlineMs,
            send: (c) =>
              outbox.enqueue(trx, c.name, c.data, {
                correlationId: orderId,
                id: derivedEventId(`${orderId}:deadline`, c.name),
                trace,
              }),
            record: (d) =>
              outbox.enqueue(trx, "saga.transitioned", d, {
                correlationId: orderId,
                id: derivedEventId(`${orderId}:deadline`, "saga.transitioned"),
                trace,
                time: at,
              }),
          },
        );
        if (t.sent.length)
          logger.info(
            { orderId, reason: t.after.reason, sent: t.sent.map((c) => c.name) },
            "saga deadline passed",
          );
      }
      return due.length;
    });

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = tick()
        .then(
          () => outage.reachable(),
          (err: unknown) => {
            if (!outage.failure(err)) logger.warn({ err: describeError(err) }, "saga deadline tick failed");
          },
        )
        .finally(() => {
          inFlight = undefined;
          schedule();
        });
    }, opts.tickMs);
  };

  return {
    tick,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}

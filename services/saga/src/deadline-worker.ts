import { derivedEventId } from "@orderflow/events";
import { describeError, type ServiceDeps, type Worker } from "@orderflow/outbox";
import { sql } from "kysely";
import type { SagaDb } from "./migrations.js";
import { applyInput } from "./store.js";

export interface DeadlineConfig {
  SAGA_DEADLINE_MS: number;
  SAGA_TICK_MS: number;
}

/**
 * Every tick, fails the sagas whose deadline passed while still awaiting a reply. Instances share
 * the work with SKIP LOCKED; compensations get ids derived from the order, so a retried tick
 * re-enqueues nothing new.
 */
export function deadlineWorker({
  db,
  outbox,
  now,
  logger,
  config,
}: Pick<ServiceDeps<SagaDb>, "db" | "outbox" | "now" | "logger"> & { config: DeadlineConfig }): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function tick(): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const at = now();
      const due = await sql<{ order_id: string }>`
        SELECT order_id FROM sagas WHERE status = 'AWAITING' AND deadline_at <= ${at}
        ORDER BY deadline_at LIMIT 100 FOR UPDATE SKIP LOCKED`.execute(trx);
      for (const { order_id: orderId } of due.rows) {
        await applyInput(trx, { name: "deadline", data: { orderId } }, {
          now: at,
          deadlineMs: config.SAGA_DEADLINE_MS,
          send: (c) =>
            outbox.enqueue(trx, c.name, c.data as never, { correlationId: orderId, id: derivedEventId(`${orderId}:deadline`, c.name) }),
        });
      }
      return due.rows.length;
    });
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .then((n) => {
          if (n) logger.info({ sagas: n }, "saga deadlines passed");
        })
        .catch((err: unknown) => logger.warn({ err: describeError(err) }, "deadline tick failed"))
        .finally(schedule);
    }, config.SAGA_TICK_MS);
  };

  return {
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

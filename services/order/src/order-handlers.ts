import type { OrderflowCatalog, OrderEvents } from "@orderflow/contracts";
import { PermanentError, type HandlerContext, type Handlers } from "@orderflow/outbox";
import { type ServiceDeps } from "@orderflow/host";
import type { OrderDb } from "./migrations.js";
import { decide, evolve, ignoredBecause, type OrderCommand } from "./order-decider.js";
import { loadOrderForUpdate, saveOrder } from "./order-store.js";

/** Applies the saga's decisions: PENDING → CONFIRMED | CANCELLED, once. */
export function orderHandlers({
  now,
  logger,
}: Pick<ServiceDeps<OrderDb, {}, OrderEvents>, "now" | "logger">): Handlers<OrderflowCatalog, OrderEvents> {
  const apply = async (command: OrderCommand, { trx, emit }: HandlerContext<OrderEvents>): Promise<void> => {
    const orderId = command.data.orderId;
    const order = await loadOrderForUpdate(trx, orderId);
    // The saga decides only on orders this service published: anything else can never apply.
    if (!order) throw new PermanentError(`unknown order ${orderId}`);
    const events = decide(command, order);
    if (!events.length) {
      const why = ignoredBecause(command, order);
      if (why?.conflict) logger.warn({ orderId, command: command.name, status: order.status }, why.message);
      else
        logger.debug(
          { orderId, command: command.name, status: order.status },
          why?.message ?? "nothing to do",
        );
      return;
    }
    const next = events.reduce(evolve, order);
    const at = now();
    await saveOrder(trx, next, at);
    // ce-time is the update's time: a rebuild restores updated_at from it.
    for (const e of events) await emit(e.name, e.data, { correlationId: orderId, time: at });
    logger.info({ orderId, status: next.status, reason: next.reason }, `order ${next.status.toLowerCase()}`);
  };
  return {
    "order.approve.requested": (e, ctx) => apply({ name: e.name, data: e.data }, ctx),
    "order.cancel.requested": (e, ctx) => apply({ name: e.name, data: e.data }, ctx),
  };
}

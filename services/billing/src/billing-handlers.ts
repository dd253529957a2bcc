import type { OrderflowCatalog, BillingEvents } from "@orderflow/contracts";
import type { HandlerContext, Handlers } from "@orderflow/outbox";
import type { ServiceDeps } from "@orderflow/host";
import { decide, isPublished, type BillingCommand } from "./billing-decider.js";
import { loadBilling, lockOrder, persist, type BillingScope } from "./billing-store.js";
import type { BillingDb } from "./migrations.js";

/**
 * Charges new orders and refunds as the saga asks. Each runs in the consumer's transaction: lock the
 * order, load and lock the account and payment, decide, persist the events, emit the published ones
 * (ids derived from the handled event, so a re-run re-emits the same ids).
 */
export function billingHandlers({
  logger,
}: Pick<ServiceDeps<BillingDb, {}, BillingEvents>, "logger">): Handlers<OrderflowCatalog, BillingEvents> {
  const apply = async (
    command: BillingCommand & { data: { orderId: string } },
    scope: BillingScope,
    { trx, emit }: HandlerContext<BillingEvents>,
  ) => {
    const orderId = command.data.orderId;
    await lockOrder(trx, orderId);
    const before = await loadBilling(trx, scope);
    const events = decide(command, before);
    if (!events.length) {
      logger.debug(
        { orderId, command: command.name, payment: before.payment?.status },
        "billing: nothing to do",
      );
      return;
    }
    await persist(trx, before, events);
    for (const e of events) if (isPublished(e)) await emit(e.name, e.data, { correlationId: orderId });
    logger.info({ orderId, events: events.map((e) => e.name) }, "billing decided");
  };
  return {
    "order.created": (e, ctx) =>
      apply({ name: e.name, data: e.data }, { orderId: e.data.orderId, customerId: e.data.customerId }, ctx),
    "payment.refund.requested": (e, ctx) =>
      apply({ name: e.name, data: e.data }, { orderId: e.data.orderId }, ctx),
  };
}

import type { OrderflowCatalog, InventoryEvents } from "@orderflow/contracts";
import type { HandlerContext, Handlers } from "@orderflow/outbox";
import type { ServiceDeps } from "@orderflow/host";
import { decide, isPublished, type InventoryCommand } from "./inventory-decider.js";
import { loadInventory, lockOrder, persist, type InventoryScope } from "./inventory-store.js";
import type { InventoryDb } from "./migrations.js";

/**
 * Reserves stock for new orders and releases or commits reservations as the saga asks. Each runs in
 * the consumer's transaction: lock the order, load and lock its stock, decide, persist the events,
 * emit the published ones (ids derived from the handled event, so a re-run re-emits the same ids).
 */
export function inventoryHandlers({
  logger,
}: Pick<ServiceDeps<InventoryDb, {}, InventoryEvents>, "logger">): Handlers<
  OrderflowCatalog,
  InventoryEvents
> {
  const apply = async (
    command: InventoryCommand & { data: { orderId: string } },
    scope: InventoryScope,
    { trx, emit }: HandlerContext<InventoryEvents>,
  ) => {
    const orderId = command.data.orderId;
    await lockOrder(trx, orderId);
    const before = await loadInventory(trx, scope);
    const events = decide(command, before);
    if (!events.length) {
      logger.debug(
        { orderId, command: command.name, reservation: before.reservation?.status },
        "inventory: nothing to do",
      );
      return;
    }
    await persist(trx, before, events);
    for (const e of events) if (isPublished(e)) await emit(e.name, e.data, { correlationId: orderId });
    logger.info({ orderId, events: events.map((e) => e.name) }, "inventory decided");
  };
  return {
    "order.created": (e, ctx) =>
      apply(
        { name: e.name, data: e.data },
        { orderId: e.data.orderId, skus: e.data.items.map((l) => l.sku) },
        ctx,
      ),
    "inventory.release.requested": (e, ctx) =>
      apply({ name: e.name, data: e.data }, { orderId: e.data.orderId }, ctx),
    "order.approve.requested": (e, ctx) =>
      apply({ name: e.name, data: e.data }, { orderId: e.data.orderId }, ctx),
  };
}

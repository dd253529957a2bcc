import type { HandlerContext, Handlers } from "@orderflow/outbox";
import { decide, type InventoryEvent, type InventoryInput } from "./decide.js";
import { applyOwnEvent, loadForUpdate, reservedSkus } from "./store.js";

async function handle(input: InventoryInput, skus: string[], { trx, emit }: HandlerContext): Promise<void> {
  const state = await loadForUpdate(trx, input.data.orderId, skus);
  for (const event of decide(input, state)) {
    await applyOwnEvent(trx, event);
    await emit(event.name, event.data as never);
  }
}

export const handlers = (): Handlers => ({
  "order.created": (e, ctx) =>
    handle(
      { name: e.name, data: e.data },
      e.data.items.map((l) => l.sku),
      ctx,
    ),
  "inventory.release.requested": async (e, ctx) =>
    handle({ name: e.name, data: e.data }, await reservedSkus(ctx.trx, e.data.orderId), ctx),
  "order.approve.requested": async (e, ctx) =>
    handle({ name: e.name, data: e.data }, await reservedSkus(ctx.trx, e.data.orderId), ctx),
});

export type { InventoryEvent };

import type { HandlerContext, Handlers } from "@orderflow/outbox";
import { decide, type BillingInput } from "./decide.js";
import { applyOwnEvent, loadForUpdate } from "./store.js";

async function handle(input: BillingInput, customerId: string | undefined, { trx, emit }: HandlerContext): Promise<void> {
  const state = await loadForUpdate(trx, input.data.orderId, customerId);
  for (const event of decide(input, state)) {
    await applyOwnEvent(trx, event);
    await emit(event.name, event.data as never);
  }
}

export const handlers = (): Handlers => ({
  "order.created": (e, ctx) => handle({ name: e.name, data: e.data }, e.data.customerId, ctx),
  "payment.refund.requested": (e, ctx) => handle({ name: e.name, data: e.data }, undefined, ctx),
});

import type { Handlers } from "@orderflow/outbox";
import type { SagaInput } from "./decide.js";
import { applyInput } from "./store.js";

export const handlers = ({ now, config }: { now: () => Date; config: { SAGA_DEADLINE_MS: number } }): Handlers => {
  const on =
    () =>
    (e: { name: string; data: { orderId: string } }, { trx, emit }: Parameters<NonNullable<Handlers["order.created"]>>[1]) =>
      applyInput(trx, e as SagaInput, {
        now: now(),
        deadlineMs: config.SAGA_DEADLINE_MS,
        send: (c) => emit(c.name, c.data as never),
      }).then(() => undefined);
  return {
    "order.created": on(),
    "inventory.reserved": on(),
    "inventory.rejected": on(),
    "inventory.released": on(),
    "payment.charged": on(),
    "payment.declined": on(),
    "payment.refunded": on(),
    "order.confirmed": on(),
    "order.cancelled": on(),
  };
};

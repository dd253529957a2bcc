import type { OrderflowCatalog, SagaEvents } from "@orderflow/contracts";
import type { CloudEvent } from "@orderflow/contracts";
import type { HandlerContext, Handlers } from "@orderflow/outbox";
import type { ServiceDeps } from "@orderflow/host";
import type { SagaDb } from "./migrations.js";
import type { SagaConfigShape } from "./saga-config.js";
import type { SagaInput } from "./saga-decider.js";
import { countOutcome, sagaMetrics } from "./saga-metrics.js";
import { applySagaInput } from "./saga-store.js";

/**
 * Feeds every event the saga listens to through decide/evolve. Commands are emitted in the
 * handler's transaction with ids derived from the causing event, so a re-run re-emits the same ids.
 */
export function sagaHandlers({
  now,
  config,
  logger,
  metrics,
}: Pick<ServiceDeps<SagaDb, SagaConfigShape, SagaEvents>, "now" | "config" | "logger" | "metrics">): Handlers<
  OrderflowCatalog,
  SagaEvents
> {
  // Looked up when a handler runs, not while the map is built: NATS permissions and provisioning
  // build the map only to read its keys, with deps that refuse to be touched.
  const counts = () => sagaMetrics(metrics.registry);
  const apply = async (
    input: SagaInput & Partial<CloudEvent>,
    { trx, emit, afterCommit }: HandlerContext<SagaEvents>,
  ): Promise<void> => {
    const orderId = input.data.orderId;
    const at = now();
    const t = await applySagaInput(trx, input, {
      now: at,
      deadlineMs: config.SAGA_DEADLINE_MS,
      send: (c) => emit(c.name, c.data, { correlationId: orderId }),
      record: (d) => emit("saga.transitioned", d, { correlationId: orderId, time: at }),
      trace: { traceparent: input.traceparent, tracestate: input.tracestate },
    });
    afterCommit(() => countOutcome(counts(), t, at));
    if (!t.events.length) {
      logger.debug({ orderId, event: input.name, state: t.before.status }, "saga: input changed nothing");
    } else if (t.before.status !== t.after.status || t.sent.length) {
      logger.info(
        {
          orderId,
          event: input.name,
          from: t.before.status,
          to: t.after.status,
          sent: t.sent.map((c) => c.name),
        },
        "saga transition",
      );
    }
  };
  return {
    "order.created": apply,
    "inventory.reserved": apply,
    "inventory.rejected": apply,
    "inventory.released": apply,
    "payment.charged": apply,
    "payment.declined": apply,
    "payment.refunded": apply,
    "order.confirmed": apply,
    "order.cancelled": apply,
  };
}

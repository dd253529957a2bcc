import { Counter, Histogram, type Registry } from "prom-client";
import type { Transition } from "./saga-store.js";

export type SagaMetrics = ReturnType<typeof create>;

function create(registry: Registry) {
  const registers = [registry];
  return {
    outcomes: new Counter({
      name: "orderflow_saga_outcomes_total",
      help: "Sagas that reached CONFIRMED or CANCELLED, by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "orderflow_saga_duration_seconds",
      help: "From a saga's first input to its outcome",
      labelNames: ["outcome"] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    deadlineExpiries: new Counter({
      name: "orderflow_saga_deadline_expiries_total",
      help: "Sagas whose deadline passed while they still waited for a reply",
      registers,
    }),
  };
}

const made = new WeakMap<Registry, SagaMetrics>();

/** The saga's metrics on a service's registry: created once, shared by its handlers and its worker. */
export function sagaMetrics(registry: Registry): SagaMetrics {
  let m = made.get(registry);
  if (!m) made.set(registry, (m = create(registry)));
  return m;
}

/**
 * Counts a committed transition that ends the saga. A saga reopened by a late success after it was
 * cancelled (to compensate that success too) counts again when it is cancelled again.
 */
export function countOutcome(metrics: SagaMetrics, t: Transition, at: Date): void {
  const outcome =
    t.after.status === "CONFIRMED" ? "confirmed" : t.after.status === "CANCELLED" ? "cancelled" : undefined;
  if (!outcome || t.before.status === t.after.status) return;
  metrics.outcomes.inc({ outcome });
  metrics.duration.observe({ outcome }, Math.max(0, at.getTime() - t.startedAt.getTime()) / 1000);
}

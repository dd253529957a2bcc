import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The runtime's Prometheus metrics for one service. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    published: new Counter({
      name: "orderflow_relay_published_total",
      help: "Events the relay published to JetStream",
      registers: [registry],
    }),
    consumed: new Counter({
      name: "orderflow_consumer_messages_total",
      help: "Messages handled by the consumer runtime, by result",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    backlog: new Gauge({
      name: "orderflow_outbox_backlog",
      help: "Unpublished outbox rows (read at scrape time)",
      registers: [registry],
    }),
    http: new Histogram({
      name: "orderflow_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Seconds: from a few milliseconds (a lone event) to half a minute (a stuck dependency). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The runtime's Prometheus metrics for one service (every series carries `service`). Label values
 * are bounded: `event_type` is an event name of the service's catalogs (or `unknown`), `stream` and
 * `consumer` name its durables. The gauges read from NATS and the database are refreshed at
 * scrape time (see `createMetricsRefresh`).
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    published: new Counter({
      name: "orderflow_relay_published_total",
      help: "Events the relay published to JetStream and marked published",
      registers,
    }),
    leader: new Gauge({
      name: "orderflow_relay_leader",
      help: "1 while this instance's relay holds the outbox leader lock, else 0",
      registers,
    }),
    commitToAck: new Histogram({
      name: "orderflow_relay_commit_to_ack_seconds",
      help: "From the outbox row's transaction to JetStream's PubAck, per event",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    backlog: new Gauge({
      name: "orderflow_outbox_backlog",
      help: "Unpublished outbox rows",
      registers,
    }),
    oldestUnpublished: new Gauge({
      name: "orderflow_outbox_oldest_unpublished_age_seconds",
      help: "Age of the oldest unpublished outbox row; 0 when none",
      registers,
    }),
    consumed: new Counter({
      name: "orderflow_consumer_messages_total",
      help: "Messages handled by the consumer runtime, by result and event type",
      labelNames: ["result", "event_type"] as const,
      registers,
    }),
    handlerDuration: new Histogram({
      name: "orderflow_consumer_handler_duration_seconds",
      help: "Time spent in a handler per event applied (its statements, not the batch commit)",
      labelNames: ["event_type"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    pending: new Gauge({
      name: "orderflow_consumer_pending_messages",
      help: "Messages in the stream not yet delivered to the durable (JetStream num_pending): consumer lag",
      labelNames: ["stream", "consumer"] as const,
      registers,
    }),
    ackPending: new Gauge({
      name: "orderflow_consumer_ack_pending_messages",
      help: "Messages delivered to the durable and not yet acknowledged (JetStream num_ack_pending)",
      labelNames: ["stream", "consumer"] as const,
      registers,
    }),
    deadLetters: new Gauge({
      name: "orderflow_dead_letter_messages",
      help: "Messages in the dead-letter stream (shared by every service)",
      labelNames: ["stream"] as const,
      registers,
    }),
    refreshFailures: new Counter({
      name: "orderflow_metrics_refresh_failures_total",
      help: "Scrape-time reads that failed or timed out (their gauges keep the last value)",
      labelNames: ["source"] as const,
      registers,
    }),
    http: new Histogram({
      name: "orderflow_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

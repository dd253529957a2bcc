import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The service's NATS connection: reconnects forever. */
export function connectNats(servers: string, service: string): Promise<NatsConnection> {
  return connect({
    servers,
    name: `orderflow-${service}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Otherwise every publish and pull request builds two Error objects up front for their
    // stack traces: a third of the relay's CPU in the outbox benchmark.
    noAsyncTraces: true,
  });
}

export { InfraError, InfraErrorCode, isInfraError } from "./errors.js";
export { waitFor } from "./wait.js";
export { freePort, canConnect } from "./net.js";
export { NatsServer, findNatsServer } from "./nats-server.js";
export type { NatsServerOptions, ServerDeath } from "./nats-server.js";
export { NatsCluster, NatsClusterNode } from "./nats-cluster.js";
export type { NatsClusterOptions } from "./nats-cluster.js";
export { EmbeddedPostgresServer, ensureDatabase, dropDatabase, databaseUrl } from "./postgres.js";
export type { EmbeddedPostgresOptions, PostgresTlsFiles } from "./postgres.js";
export { resolveNats, resolvePostgres, NO_NATS_MESSAGE } from "./resolve.js";
export type { Resolved, ResolveOptions } from "./resolve.js";
export { testNats, testNatsCluster, testDatabase, testPostgres, testPostgresServer } from "./testkit.js";
export type {
  TestNats,
  TestNatsOptions,
  TestNatsClusterOptions,
  TestDatabase,
  TestPostgres,
} from "./testkit.js";
export { publish, eventsOf } from "./events.js";
export type { StoredEvent } from "./events.js";
export { consumerSettled } from "./consumers.js";
export { scrapeMetrics, parseMetrics } from "./metrics.js";
export type { Scrape } from "./metrics.js";
export { otlpReceiver, decodeOtlpJson } from "./otlp-receiver.js";
export type { OtlpReceiver, OtlpRequest, ReceivedSpan } from "./otlp-receiver.js";

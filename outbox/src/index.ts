export { createOutbox } from "./outbox.js";
export type { OutboxOptions } from "./outbox.js";
export { createRelay, DEFAULT_INBOX_RETENTION_MS } from "./relay.js";
export type { Relay, RelayOptions } from "./relay.js";
export type { RetentionRule } from "./relay/retention-cleanup.js";
export { createConsumer } from "./consumer.js";
export { DeadLetterHeader } from "./consumer/dead-letter.js";
export { applyEvent, applyEvents, HandlerFailed } from "./apply.js";
export type { AnyHandlers, ApplyOptions, ApplyResult } from "./apply.js";
export type { Consumer, ConsumerOptions, ConsumeResult } from "./consumer.js";
export { durablesFor } from "./consumer/durables.js";
export type { Durable } from "./consumer/durables.js";
export {
  ensureStreams,
  Topology,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_DEAD_LETTER_LIMITS,
  controlSubject,
} from "./topology.js";
export type { ProvisionOptions, ProvisionAction, DeadLetterLimits } from "./topology.js";
export { migrate, runtimeMigrations, OUTBOX_TABLE, INBOX_TABLE } from "./migrations.js";
export type { OutboxTable, InboxTable } from "./migrations.js";
export {
  OutboxError,
  OutboxErrorCode,
  isOutboxError,
  describeError,
  isDatabaseUnavailable,
} from "./errors.js";
export { OutageLog } from "./outage-log.js";
export type { OutageLogOptions } from "./outage-log.js";
export { PermanentError } from "./types.js";
export type {
  Outbox,
  OutboxRow,
  EnqueueOptions,
  Handler,
  Handlers,
  HandlerContext,
  AnyDb,
  AnyTransaction,
} from "./types.js";
export { PreparingClient } from "./prepared.js";
export { executeTogether } from "./together.js";

// ---- Recovery primitives: what operators' tools (the `orderflow` CLI) build on. ----
export { databaseName, openDatabase } from "./recovery/open-database.js";
export { CONTROL_DATABASE_HEADER } from "./recovery/request-control.js";
export type { OpenDatabaseOptions } from "./recovery/open-database.js";
export { outboxStatus } from "./recovery/outbox-status.js";
export type { OutboxStatus } from "./recovery/outbox-status.js";
export { readStream } from "./recovery/read-stream.js";
export type { ReadStreamOptions } from "./recovery/read-stream.js";
export { replayEvents } from "./recovery/replay-events.js";
export type { ReplayOptions, ReplayResult } from "./recovery/replay-events.js";
export { rebuildDatabase } from "./recovery/rebuild-database.js";
export type { RebuildOptions, RebuildResult } from "./recovery/rebuild-database.js";
export { republishOutbox } from "./recovery/republish-outbox.js";
export type { RepublishOptions, RepublishResult } from "./recovery/republish-outbox.js";
export { DeadLetters } from "./recovery/dead-letters.js";
export type { DeadLetter, DeadLetterDetail, DeadLettersOptions } from "./recovery/dead-letters.js";
export { listConsumers, resetConsumer } from "./recovery/durable-consumers.js";
export type { ConsumerState } from "./recovery/durable-consumers.js";
export { handledStreams } from "./recovery/catalog.js";
export type { Logger, LogFn } from "./logger.js";

export { createOutbox } from "./outbox.js";
export type { OutboxOptions } from "./outbox.js";
export { createRelay } from "./relay.js";
export type { Relay, RelayOptions } from "./relay.js";
export { createConsumer } from "./consumer.js";
export { DeadLetterHeader } from "./consumer/dead-letter.js";
export { applyEvent, applyEvents, HandlerFailed } from "./apply.js";
export type { AnyHandlers, ApplyOptions, ApplyResult } from "./apply.js";
export type { Consumer, ConsumerOptions, ConsumeResult } from "./consumer.js";
export { ensureStreams, Topology, DEFAULT_DUPLICATE_WINDOW_MS, controlSubject } from "./topology.js";
export type { ProvisionOptions, ProvisionAction } from "./topology.js";
export { migrate, runtimeMigrations, OUTBOX_TABLE, INBOX_TABLE } from "./migrations.js";
export type { OutboxTable, InboxTable } from "./migrations.js";
export { OutboxError, OutboxErrorCode, isOutboxError, describeError } from "./errors.js";
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

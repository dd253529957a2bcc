import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { AnyCatalog, AnyCloudEvent as CloudEvent, CloudEventOf } from "@orderflow/events";
import type { Logger } from "./logger.js";
import type { AnyHandlers, ApplyResult } from "./apply.js";
import { createBatchApplier } from "./consumer/batch-applier.js";
import { createDeadLetter } from "./consumer/dead-letter.js";
import { createDeliveryPolicy } from "./consumer/delivery-policy.js";
import { startDurableReader, type DurableReader } from "./consumer/durable-reader.js";
import { durablesFor, ensureDurable, type DurableSettings } from "./consumer/durables.js";
import { createKeepAlive, type KeepAlive } from "./consumer/keep-alive.js";
import { createLanes, type Lanes } from "./consumer/lanes.js";
import { OutboxError } from "./errors.js";
import { OutageLog } from "./outage-log.js";
import { settlesWithin } from "./settles-within.js";
import { Topology } from "./topology.js";
import type { AnyDb, AnyTransaction, Handlers, Outbox } from "./types.js";

export interface ConsumerOptions<C extends AnyCatalog = AnyCatalog, P extends AnyCatalog = C> {
  /** Durable consumer name on each stream, and the inbox key; usually the service name. */
  readonly name: string;
  /** The events the handlers take (e.g. `mergeCatalogs(theirs, ours)`): what messages decode with. */
  readonly catalog: C;
  readonly db: AnyDb;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Where handlers' `emit` writes: the service's own events. */
  readonly outbox: Outbox<P>;
  readonly handlers: Handlers<C, P>;
  readonly topology?: Topology;
  readonly logger?: Logger;
  /**
   * Most messages applied in one transaction (default 100). Batches form by themselves under load:
   * a lane takes whatever has arrived while it was busy, so a lone message goes alone at once.
   */
  readonly batchSize?: number;
  /**
   * Lanes (default 1): each applies its own batches, one transaction at a time; a message goes to
   * the lane of its correlation id, so the events of one order are applied in order, in one lane.
   * More than one only where handlers of different orders never lock the same rows (the saga, the
   * order service): two lanes locking shared rows (stock, accounts) in different orders deadlock.
   */
  readonly concurrency?: number;
  /**
   * Takes, before any handler of a transaction runs, the row locks its handlers will need for
   * `events` (the new ones of the batch), in one fixed order — e.g. `lockKeys` on the SKUs — so that
   * two instances (or lanes) applying batches that touch the same rows at once wait for each other
   * instead of deadlocking. Without it, only one lane of one process may touch shared rows.
   */
  readonly lockBatch?: (trx: AnyTransaction, events: readonly CloudEventOf<C>[]) => Promise<void>;
  /** Deliveries before a failing message is dead-lettered. */
  readonly maxDeliver?: number;
  /** First retry delay; doubles per delivery up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * How long JetStream waits for an ack before redelivering (default 5 s): what a killed process
   * held goes to another instance within it (`orderflow up --instances 2` runs them with 2 s). Held messages (queued or being applied) are kept alive
   * with `+WPI` every ackWait/6 once ackWait/3 old, so a slow batch is not redelivered meanwhile.
   */
  readonly ackWaitMs?: number;
  /**
   * How long `stop()` waits for the messages in flight to commit and ack (default 2000 ms). Past it —
   * the database does not answer — it returns; what was not acked is redelivered after `ackWaitMs`
   * (to this or another instance), and the inbox drops whatever had committed.
   */
  readonly stopTimeoutMs?: number;
  /** Called once per message when it has been acked, retried or dead-lettered, with its NATS subject. */
  readonly onResult?: (result: ConsumeResult, subject: string) => void;
  /** Called with each applied event's name and the seconds its handler ran. */
  readonly onHandled?: (event: string, seconds: number) => void;
  /**
   * Runs after the inbox transaction committed and before the ack. A test seam: a crash here
   * leaves an applied but unacknowledged message, which JetStream redelivers after `ackWaitMs` and
   * the inbox turns into a `duplicate`. A throw counts as a failed delivery (the message is
   * redelivered and found in the inbox).
   */
  readonly afterCommit?: (event: CloudEvent, result: ApplyResult) => Promise<void> | void;
}

export type ConsumeResult = "applied" | "duplicate" | "ignored" | "retried" | "dead-lettered";

export interface Consumer {
  /** Creates or updates the durable consumers, then starts pulling. */
  start(): Promise<void>;
  /** Stops pulling and waits for messages in flight to commit and ack (`stopTimeoutMs` at most). */
  stop(): Promise<void>;
  readonly running: boolean;
  readonly durables: readonly { stream: string; consumer: string; filter: string }[];
}

/** The options as the runtime calls the handlers: of any catalog. */
type RuntimeOptions = Omit<ConsumerOptions, "handlers" | "outbox" | "lockBatch"> & {
  readonly lockBatch?: ((trx: AnyTransaction, events: readonly CloudEvent[]) => Promise<void>) | undefined;
  readonly handlers: AnyHandlers;
  readonly outbox: Outbox;
};

const DEFAULT_ACK_WAIT_MS = 5000;
const DEFAULT_BACKOFF_MS = 200;

/**
 * Runs a service's handlers over durable pull consumers, one per stream it listens to.
 * Messages of all its streams queue up in arrival order; a lane takes what has queued (up to
 * `batchSize`), decodes each, and applies the handled ones in one transaction (inbox rows, handlers,
 * emitted events; duplicates stop at the inbox), then acks them. One transaction per batch instead
 * of per message is what makes the runtime fast: a commit's fsync is paid once for the batch.
 * When a handler throws, the batch is rolled back and applied again without that message, which
 * alone is retried, and dead-lettered when it can never succeed (undecodable, PermanentError, out
 * of deliveries). A failure that only says
 * the database is unreachable is retried, never dead-lettered for it.
 */
export function createConsumer<C extends AnyCatalog, P extends AnyCatalog = C>(
  options: ConsumerOptions<C, P>,
): Consumer {
  const handlers = checkHandlers(options.catalog, options.handlers as unknown as AnyHandlers, options.name);
  const opts: RuntimeOptions = {
    ...options,
    handlers,
    outbox: options.outbox as Outbox,
    lockBatch: options.lockBatch as RuntimeOptions["lockBatch"],
  };
  const topology = opts.topology ?? new Topology();
  const batchSize = opts.batchSize ?? 100;
  const concurrency = opts.concurrency ?? 1;
  const settings: DurableSettings = {
    // Short, so that what a crashed process held is redelivered within seconds of its restart (well
    // inside a saga's deadline); messages still queued or being applied are kept alive meanwhile.
    ackWaitMs: opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
    // The readers never stop taking what was delivered; this bounds what is delivered and unacked.
    maxAckPending: Math.max(1000, batchSize * concurrency * 4),
  };
  const durables = durablesFor(handlers, opts.catalog, topology, opts.name);
  const keepAlive = createKeepAlive(settings.ackWaitMs);
  const lanes = createPipeline(opts, { topology, keepAlive, batchSize, concurrency });
  const receive = (m: JsMsg) => {
    keepAlive.hold(m);
    lanes.push(m);
  };
  const stopTimeoutMs = opts.stopTimeoutMs ?? 2000;
  let readers: DurableReader[] = [];
  let started = false;

  return {
    durables,
    get running() {
      return started && readers.every((r) => r.live);
    },
    async start() {
      if (started) return;
      for (const d of durables) await ensureDurable(opts.jsm, d, settings);
      started = true;
      keepAlive.start();
      readers = durables.map((durable) =>
        startDurableReader({
          durable,
          settings,
          js: opts.js,
          jsm: opts.jsm,
          maxMessages: Math.max(batchSize * concurrency, 64),
          receive,
          logger: opts.logger,
        }),
      );
    },
    async stop() {
      started = false;
      await Promise.all(readers.map((r) => r.stop()));
      readers = [];
      // What was already delivered is applied and acked before stop returns — unless the database
      // does not answer: then it is left unacked, for redelivery.
      if (!(await settlesWithin(lanes.settled(), stopTimeoutMs)))
        opts.logger?.warn(
          { waitedMs: stopTimeoutMs },
          "consumer: messages in flight did not commit in time; left unacknowledged, to be redelivered",
        );
      keepAlive.stop();
    },
  };
}

/** Lanes feeding batches to the applier, which acks, retries or dead-letters each message. */
function createPipeline(
  opts: RuntimeOptions,
  lanes: { topology: Topology; keepAlive: KeepAlive; batchSize: number; concurrency: number },
): Lanes {
  const backoffMs = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const log = opts.logger;
  const deadLetter = createDeadLetter({
    name: opts.name,
    js: opts.js,
    topology: lanes.topology,
    retryMs: backoffMs,
    logger: log,
  });
  const policy = createDeliveryPolicy({
    maxDeliver: opts.maxDeliver ?? 5,
    backoffMs,
    maxBackoffMs: opts.maxBackoffMs ?? 30_000,
    deadLetter,
    afterCommit: opts.afterCommit,
    logger: log,
    outage: new OutageLog({ what: "consumer", logger: log }),
  });
  const apply = createBatchApplier({
    name: opts.name,
    catalog: opts.catalog,
    db: opts.db,
    outbox: opts.outbox,
    handlers: opts.handlers,
    onHandled: opts.onHandled,
    lockBatch: opts.lockBatch,
    deadLetter,
    policy,
    report: (result, m) => {
      lanes.keepAlive.release(m);
      opts.onResult?.(result, m.subject);
    },
  });
  return createLanes({ concurrency: lanes.concurrency, batchSize: lanes.batchSize, apply, logger: log });
}

/**
 * The handler map, refused at start (not message by message) when it names an event the catalog
 * lacks or holds something other than a function.
 */
function checkHandlers(catalog: AnyCatalog, handlers: AnyHandlers, consumer: string): AnyHandlers {
  for (const [name, handler] of Object.entries(handlers)) {
    if (!catalog.has(name)) {
      throw new OutboxError(
        "UNKNOWN_EVENT",
        `${consumer}: a handler names "${name}", which is not an event of its catalogs (${catalog.names.join(", ")})`,
      );
    }
    if (typeof handler !== "function")
      throw new OutboxError("UNKNOWN_EVENT", `${consumer}: the handler of "${name}" is not a function`);
  }
  return handlers;
}

import { setTimeout as sleep } from "node:timers/promises";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { ClosedConnectionError, DrainingConnectionError } from "@nats-io/nats-core";
import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import { isNotFound } from "../topology.js";
import { ensureDurable, type Durable, type DurableSettings } from "./durables.js";

/**
 * The server sends these while a pull waits; two missed make nats.js check that the durable still
 * exists. Its default (half the pull's 30 s expiry) let a deleted durable go unnoticed for 30-45 s
 * when the server's "consumer deleted" notice was missed (e.g. across a reconnect).
 */
const IDLE_HEARTBEAT_MS = 1000;
/**
 * A pull's lifetime. nats.js also waits this long before it asks again whether the durable exists
 * when asking failed: during a cluster's leader election (seconds on nats-server 2.9) its default
 * 30 s stalled the consumer for 30 s more after the new leader was there. An idle durable re-pulls
 * this often: one small request every 3 s.
 */
const PULL_EXPIRES_MS = 3000;
/** How long a deleted durable is left to whoever deleted it to add back (a reset does) before we do. */
const RECREATE_AFTER_MS = 2000;
const RETRY_MS = 100;
const RETRY_MAX_MS = 5000;

export interface DurableReaderOptions {
  readonly durable: Durable;
  /** What a durable deleted and not added back is recreated with. */
  readonly settings: DurableSettings;
  readonly js: Pick<JetStreamClient, "consumers">;
  readonly jsm: Pick<JetStreamManager, "consumers">;
  /** Messages asked for per pull. */
  readonly maxMessages: number;
  /** Takes each message as it arrives; must never block (what stays in the client's buffer cannot be kept alive). */
  readonly receive: (m: JsMsg) => void;
  readonly logger?: Logger | undefined;
}

export interface DurableReader {
  /**
   * Reading a durable that exists: false from the moment it is found deleted until it is read again
   * (re-added by a reset, or recreated here), and for good once the connection is closed.
   */
  readonly live: boolean;
  /** Stops pulling; resolves once the last message read was handed to `receive`. */
  stop(): Promise<void>;
}

/**
 * Pulls from one durable and hands every message over. When the durable is deleted under it
 * (`orderflow consumers reset` deletes and re-adds it), it waits for the durable to be back, or
 * recreates it after `RECREATE_AFTER_MS`, and pulls again: nats.js alone only notices the new
 * durable when its heartbeat check runs, up to 45 s later.
 */
export function startDurableReader(opts: DurableReaderOptions): DurableReader {
  const { durable: d, logger: log } = opts;
  const where = { stream: d.stream, consumer: d.consumer };
  const stopping = new AbortController();
  const pause = (ms: number) => pauseUnlessAborted(ms, stopping.signal);
  let live = true;
  let messages: ConsumerMessages | undefined;

  /** Reads until the messages end: stop(), the durable deleted, the connection closed. */
  async function read(): Promise<void> {
    const c = await opts.js.consumers.get(d.stream, d.consumer);
    const msgs = await c.consume({
      max_messages: opts.maxMessages,
      idle_heartbeat: IDLE_HEARTBEAT_MS,
      expires: PULL_EXPIRES_MS,
    });
    messages = msgs;
    // close() resolves once the iteration below has ended: awaiting it before iterating never returns
    // (a stop() racing this start hung the host's shutdown). Closed, the loop below ends at once.
    if (stopping.signal.aborted) msgs.close().catch(() => {});
    else {
      live = true;
      endWhenDeleted(msgs).catch((err: unknown) => {
        log?.error({ ...where, err: describeError(err) }, "watching the durable consumer failed");
      });
    }
    for await (const m of msgs) opts.receive(m);
  }

  // nats.js reports a deleted durable (the server's 409 on the waiting pull, or "not found" when it
  // checks after two missed heartbeats) but on its own only pulls again after that check, and while
  // the durable is missing checks every 30 s.
  async function endWhenDeleted(msgs: ConsumerMessages): Promise<void> {
    for await (const s of msgs.status()) {
      // A stream lost with its durables (an R1 store gone) reports only that the stream is missing.
      if (s.type !== "consumer_deleted" && s.type !== "consumer_not_found" && s.type !== "stream_not_found")
        continue;
      live = false;
      log?.warn({ ...where, status: s.type }, "durable consumer deleted; waiting for it to be back");
      await msgs.close();
      return;
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        await read();
        failures = 0;
      } catch (err) {
        if (isConnectionGone(err)) throw err;
        if (!isNotFound(err)) {
          log?.warn({ ...where, err: describeError(err) }, "reading the durable consumer failed; retrying");
          failures++;
        }
      }
      live = false;
      if (failures && !(await pause(Math.min(RETRY_MS * 2 ** failures, RETRY_MAX_MS)))) return;
      if (!(await untilDurableExists(opts, stopping.signal))) return;
    }
  }

  const running = run().catch((err: unknown) => {
    live = false;
    log?.error({ ...where, err: describeError(err) }, "consumer stopped");
  });
  return {
    get live() {
      return live;
    },
    async stop() {
      stopping.abort();
      await messages?.close();
      await running;
    },
  };
}

/**
 * Whether the durable exists again (false: `signal` aborted): added back by whoever deleted it, else
 * recreated here after `RECREATE_AFTER_MS`. Throws once the connection is closed.
 */
async function untilDurableExists(opts: DurableReaderOptions, signal: AbortSignal): Promise<boolean> {
  const { durable: d, logger: log } = opts;
  const where = { stream: d.stream, consumer: d.consumer };
  const since = Date.now();
  for (let attempt = 0; !signal.aborted; attempt++) {
    const recreate = Date.now() - since >= RECREATE_AFTER_MS;
    try {
      if (!recreate) await opts.jsm.consumers.info(d.stream, d.consumer);
      else if ((await ensureDurable(opts.jsm, d, opts.settings)) === "created") {
        log?.warn(where, "durable consumer was not added back; recreated it");
      }
      return true;
    } catch (err) {
      if (isConnectionGone(err)) throw err;
      if (recreate || !isNotFound(err)) {
        log?.warn({ ...where, err: describeError(err) }, "durable consumer unavailable; retrying");
      }
    }
    await pauseUnlessAborted(Math.min(RETRY_MS * 2 ** attempt, RETRY_MAX_MS), signal);
  }
  return false;
}

/** True after `ms`; false as soon as `signal` aborts. */
function pauseUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return sleep(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );
}

/** The connection is closed or draining: nothing will work again on it. */
function isConnectionGone(err: unknown): boolean {
  const gone = (e: unknown) => e instanceof ClosedConnectionError || e instanceof DrainingConnectionError;
  return gone(err) || gone((err as { cause?: unknown } | null)?.cause);
}

import type { JsMsg } from "@nats-io/jetstream";
import type { AnyCloudEvent as CloudEvent } from "@orderflow/events";
import type { Logger } from "../logger.js";
import type { ApplyResult } from "../apply.js";
import type { ConsumeResult } from "../consumer.js";
import { describeError, isTransientDatabaseError } from "../errors.js";
import type { OutageLog } from "../outage-log.js";
import { parseTraceparent } from "../trace.js";
import { PermanentError } from "../types.js";
import type { DeadLetter } from "./dead-letter.js";

/** The longest a message waits for its retry while the database is the problem. */
const DB_RETRY_MAX_MS = 5000;

export interface DeliveryPolicyOptions {
  /** Deliveries before a failing message is dead-lettered. */
  readonly maxDeliver: number;
  /** First retry delay; doubles per delivery up to `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly deadLetter: DeadLetter;
  /** The test seam between commit and ack (see `ConsumerOptions.afterCommit`). */
  readonly afterCommit?: ((event: CloudEvent, result: ApplyResult) => Promise<void> | void) | undefined;
  readonly logger?: Logger | undefined;
  /** Where deliveries failing because the database is unreachable are counted (logged once per outage). */
  readonly outage?: OutageLog | undefined;
}

/** What becomes of a delivery once its transaction committed or failed: ack, retry or dead letter. */
export interface DeliveryPolicy {
  /** After the commit: the test seam, then the ack. */
  acknowledge(m: JsMsg, event: CloudEvent, result: ApplyResult): Promise<ConsumeResult>;
  /** A failed delivery: retried with backoff, or dead-lettered when it can never succeed. */
  failed(m: JsMsg, event: CloudEvent, err: unknown): Promise<ConsumeResult>;
}

/** The delay before delivery `deliveries + 1`: doubling from `backoffMs`, at most `maxBackoffMs`. */
export const retryDelay = (deliveries: number, backoffMs: number, maxBackoffMs: number): number =>
  Math.min(backoffMs * 2 ** (deliveries - 1), maxBackoffMs);

export function createDeliveryPolicy(opts: DeliveryPolicyOptions): DeliveryPolicy {
  const { maxDeliver, backoffMs, maxBackoffMs, deadLetter, logger: log } = opts;
  return {
    async acknowledge(m, event, result) {
      try {
        opts.outage?.reachable();
        await opts.afterCommit?.(event, result);
      } catch (err) {
        log?.warn({ eventId: event.id, err: describeError(err) }, "after-commit hook failed; redelivering");
        m.nak(backoffMs);
        return "retried";
      }
      m.ack();
      return result;
    },

    async failed(m, event, err) {
      const deliveries = m.info.deliveryCount;
      const fields = {
        eventId: event.id,
        type: event.name,
        correlationId: event.correlationId,
        traceId: parseTraceparent(event.traceparent)?.traceId,
        deliveries,
        err: describeError(err),
      };
      if (err instanceof PermanentError) return deadLetter(m, "PERMANENT", describeError(err));
      const delay = retryDelay(deliveries, backoffMs, maxBackoffMs);
      // The database being down (or a deadlock, or a plan a migration invalidated) says nothing
      // about the message: retry without ever dead-lettering, and often enough to notice its return.
      if (isTransientDatabaseError(err)) {
        const retryInMs = Math.min(delay, DB_RETRY_MAX_MS);
        // Unreachable: one line when the outage starts, a count once a minute, one when it ends.
        if (!opts.outage?.failure(err, { retryInMs }))
          log?.warn({ ...fields, retryInMs }, "transient database error; retrying");
        m.nak(retryInMs);
        return "retried";
      }
      if (deliveries >= maxDeliver) {
        return deadLetter(
          m,
          "MAX_DELIVERIES",
          `failed ${deliveries} times; last error ${describeError(err)}`,
        );
      }
      log?.warn({ ...fields, retryInMs: delay }, "handler failed; retrying");
      m.nak(delay);
      return "retried";
    },
  };
}

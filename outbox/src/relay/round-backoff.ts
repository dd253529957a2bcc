import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import type { OutageLog } from "../outage-log.js";

const FIRST_PAUSE_MS = 50;
const REPEAT_LOG_MS = 60_000;

/**
 * The pause between failed relay rounds — doubling up to a maximum, back to the first once rows
 * are marked again — and the log line of each failure.
 */
export class RoundBackoff {
  readonly #maxMs: number;
  readonly #log: Logger | undefined;
  readonly #outage: OutageLog | undefined;
  #pauseMs = FIRST_PAUSE_MS;
  #lastFailure = { described: "", at: 0 };

  constructor(maxMs: number, logger?: Logger, outage?: OutageLog) {
    this.#maxMs = maxMs;
    this.#log = logger;
    this.#outage = outage;
  }

  /** Progress: the next failure is retried soon again. */
  reset(): void {
    this.#pauseMs = FIRST_PAUSE_MS;
  }

  report(err: unknown): void {
    // The database unreachable: one line when it starts, a count once a minute, one when it ends.
    if (this.#outage?.failure(err, { retryInMs: this.#pauseMs })) return;
    // A row that keeps failing (its aggregate waits, the others go on) fails every round, as
    // often as every 50 ms while other rows flow: say so once a minute, not every round.
    const described = describeError(err);
    const now = Date.now();
    const last = this.#lastFailure;
    const repeated = described === last.described && now - last.at < REPEAT_LOG_MS;
    if (!repeated) this.#lastFailure = { described, at: now };
    const fields = { err: described, retryInMs: this.#pauseMs };
    if (repeated) this.#log?.debug(fields, "relay round failed");
    else this.#log?.warn(fields, "relay round failed");
  }

  /** Waits the current pause (less if `signal` aborts), then doubles it. */
  async pause(signal: AbortSignal): Promise<void> {
    await sleep(this.#pauseMs, undefined, { signal }).catch(() => {});
    this.#pauseMs = Math.min(this.#pauseMs * 2, this.#maxMs);
  }
}

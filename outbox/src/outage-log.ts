import type { Logger } from "./logger.js";
import { describeError, isDatabaseUnavailable } from "./errors.js";

const DEFAULT_REPEAT_MS = 60_000;

export interface OutageLogOptions {
  /** Who is failing, the start of every line: `relay`, `consumer`, `http`… */
  readonly what: string;
  readonly logger?: Logger | undefined;
  /** While the outage lasts, at most one line per this period, with the failures counted (default 60 s). */
  readonly repeatMs?: number;
  /** Milliseconds now; a seam for tests. */
  readonly now?: () => number;
}

/**
 * What a loop logs while its database is unreachable: one warning when the outage starts, then at
 * most one per `repeatMs` counting the failures since the last line ("still unavailable, N failures
 * in the last 60 s"), and one when it ends ("database reachable again after S s"). Without it every
 * retry of every loop logged its failure: megabytes a minute for as long as the database was down.
 *
 * `failure(err)` takes any error and handles only those saying the database is unreachable
 * (`isDatabaseUnavailable`); the caller logs the others as before. `reachable()` ends an outage.
 */
export class OutageLog {
  readonly #opts: OutageLogOptions;
  readonly #now: () => number;
  #outage: { since: number; lastLine: number; failures: number } | undefined;

  constructor(opts: OutageLogOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Whether an outage is under way: a failure reported and nothing reachable since. */
  get unavailable(): boolean {
    return this.#outage !== undefined;
  }

  /**
   * Counts `err` if it says the database is unreachable, logging the start of the outage or, at most
   * once per period, that it lasts; true if so (the caller logs nothing more), false for any other error.
   */
  failure(err: unknown, fields: object = {}): boolean {
    if (!isDatabaseUnavailable(err)) return false;
    const { what, logger } = this.#opts;
    const now = this.#now();
    const outage = this.#outage;
    if (!outage) {
      this.#outage = { since: now, lastLine: now, failures: 0 };
      logger?.warn({ ...fields, err: describeError(err) }, `${what}: database unavailable`);
      return true;
    }
    outage.failures++;
    const periodMs = this.#opts.repeatMs ?? DEFAULT_REPEAT_MS;
    if (now - outage.lastLine >= periodMs) {
      logger?.warn(
        {
          ...fields,
          err: describeError(err),
          failures: outage.failures,
          unavailableForS: seconds(now - outage.since),
        },
        `${what}: database still unavailable, ${outage.failures} failures in the last ${seconds(now - outage.lastLine)} s`,
      );
      outage.lastLine = now;
      outage.failures = 0;
    }
    return true;
  }

  /** The database answered: ends the outage under way, if any, with one line. */
  reachable(): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = undefined;
    const s = seconds(this.#now() - outage.since);
    this.#opts.logger?.warn(
      { unavailableForS: s },
      `${this.#opts.what}: database reachable again after ${s} s`,
    );
  }
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

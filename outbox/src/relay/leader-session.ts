import type pg from "pg";
import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import { OUTBOX_CHANNEL } from "../migrations.js";
import type { OutageLog } from "../outage-log.js";
import { endWithin } from "../settles-within.js";
import { newSession, type OpenSessions } from "./open-session.js";

/** How long closing the session waits for the server before dropping the connection. */
const END_TIMEOUT_MS = 1000;

// Any int64 works; it only has to be the same for every relay of one database.
const LEADER_LOCK_KEY = 0x6f726465; // "orde"

export interface LeaderSessionOptions {
  readonly connectionString: string;
  /** LISTEN on the outbox channel (else the relay only polls). */
  readonly listen: boolean;
  readonly logger?: Logger | undefined;
  /** Where a session lost to a database outage is told (logged once per outage, not per session). */
  readonly outage?: OutageLog | undefined;
  /** The relay's sessions, this one among them while it lasts. */
  readonly open?: OpenSessions | undefined;
  /** A NOTIFY arrived: rows were committed. */
  readonly onNotify: () => void;
  /** The session is gone, and the leader lock with it: whoever waits should wake up and notice. */
  readonly onLost: () => void;
}

/**
 * The relay's dedicated session: it holds the leader lock — a session advisory lock, so whatever
 * ends the session releases it and a standby takes over — and LISTENs for new rows.
 */
export class LeaderSession {
  readonly #opts: LeaderSessionOptions;
  #client: pg.Client | undefined;
  #leader = false;

  constructor(opts: LeaderSessionOptions) {
    this.#opts = opts;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Whether `c` is still the session in use, i.e. it has not been dropped since it was acquired. */
  holds(c: pg.Client): boolean {
    return c === this.#client;
  }

  /** Connects if need be and tries the lock: the session if this relay leads, else undefined. */
  async acquire(): Promise<pg.Client | undefined> {
    this.#client ??= await this.#connect();
    if (!this.#leader) {
      const r = await this.#client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [
        LEADER_LOCK_KEY,
      ]);
      this.#leader = r.rows[0]?.ok === true;
      if (this.#leader) this.#opts.logger?.info("relay is the leader of this outbox");
    }
    return this.#leader ? this.#client : undefined;
  }

  /** Forgets the session (and with it the leader lock); waiting loops wake up and notice. */
  drop(): void {
    const c = this.#client;
    this.#client = undefined;
    this.#leader = false;
    if (c) void endWithin(c, END_TIMEOUT_MS).catch(() => {});
    this.#opts.onLost();
  }

  /** Ends the session for good: the relay stops. */
  async close(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#leader = false;
    if (c) await endWithin(c, END_TIMEOUT_MS).catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    const { connectionString, logger, outage } = this.#opts;
    const c = newSession(connectionString, "orderflow-relay", this.#opts.open);
    c.on("error", (err) => {
      if (!outage?.failure(err)) logger?.warn({ err: describeError(err) }, "relay session lost");
      if (this.#client === c) this.drop();
    });
    c.on("notification", () => this.#opts.onNotify());
    c.on("end", () => {
      if (this.#client === c) this.drop();
    });
    try {
      await c.connect();
      if (this.#opts.listen) await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    return c;
  }
}

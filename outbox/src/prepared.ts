import type { Writable } from "node:stream";
import pg from "pg";

/** Named statements per connection; past this, queries go unnamed (no DEALLOCATE needed). */
const MAX_PREPARED = 256;

const MARK = "/* orderflow:deferred";
const OWNER = Symbol("orderflow.statementOwner");

/**
 * Which handler of a batch sends the statements of `trx` now (the consumer runtime sets it before
 * each handler): a deferred statement that fails is that handler's failure, wherever it surfaces.
 */
const owners = new WeakMap<object, number>();
export function setStatementOwner(trx: object, owner: number | undefined): void {
  if (owner === undefined) owners.delete(trx);
  else owners.set(trx, owner);
}

/** The comment that starts a deferred statement's text (see `PreparingClient`). */
export function deferredMark(trx: object): string {
  const owner = owners.get(trx);
  return owner === undefined ? `${MARK} */ ` : `${MARK} ${owner} */ `;
}

/** The owner of the deferred statement that failed with `err`, if that is what it is. */
export function deferredOwnerOf(err: unknown): number | undefined {
  return err !== null && typeof err === "object" ? (err as { [OWNER]?: number })[OWNER] : undefined;
}

/** A marked text without its owner (so that it is prepared once), and the owner. */
function unmark(text: string): { text: string; owner: number | undefined } {
  const end = text.indexOf("*/");
  const owner = text.slice(MARK.length, end).trim();
  return { text: `${MARK} */${text.slice(end + 2)}`, owner: owner ? Number(owner) : undefined };
}

interface Deferred {
  readonly done: Promise<unknown>;
  failure?: { readonly err: unknown };
}

/** What a deferred statement answers at once (fresh each time: callers may keep the rows array). */
const emptyResult = () => ({ command: "DEFERRED", rowCount: null, rows: [], fields: [], oid: 0 });
const isBegin = (t: string) => t === "begin" || t.startsWith("start transaction");

/**
 * The pg client of the services: it prepares repeated statements and pipelines transactions.
 *
 * Prepares: kysely sends every query as text, and PostgreSQL would parse and plan each one again,
 * which under load is a third of its CPU (measured with perf on the flow benchmark). A
 * parameterised text becomes a named prepared statement on its second use, so one-off statements
 * (migrations, ad hoc SQL) never are, and at most MAX_PREPARED per connection, so texts that vary
 * (IN lists, multi-row VALUES) stay bounded.
 *
 * Pipelines: a round trip costs more than a small statement (on these virtual machines 60–110 µs
 * of system time in the client alone). Inside a transaction, `BEGIN` and statements whose text
 * starts with `deferredMark` (writes and locks whose result nobody reads) are sent at once and
 * answered with an empty result without waiting for the server; the next statement goes out right
 * behind them (pg's pipeline mode) and is the one waited for. PostgreSQL runs them in order, so
 * locks and snapshots are as if each had been awaited. A deferred statement that fails aborts the
 * transaction, and its error (tagged with the handler that sent it) is what the next
 * awaited statement or the COMMIT throws; a ROLLBACK discards it. Outside a transaction nothing
 * is deferred: the connection may go back to the pool right after.
 *
 * @example new pg.Pool({ connectionString, Client: PreparingClient })
 */
export class PreparingClient extends pg.Client {
  /** Text → statement name once prepared, or → times seen. */
  readonly #statements = new Map<string, string | number>();
  #prepared = 0;
  #inTransaction = false;
  #corked = false;
  /** Deferred statements sent since the last awaited one, oldest first. */
  #deferred: Deferred[] = [];

  /**
   * Holds the socket's writes until the current tick's promise jobs have run, so that a deferred
   * statement and those issued right behind it leave in one write: one wake-up of the server.
   */
  #cork(): void {
    const stream = (this as unknown as { connection?: { stream?: Writable } }).connection?.stream;
    if (this.#corked || !stream) return;
    this.#corked = true;
    stream.cork();
    process.nextTick(() => {
      this.#corked = false;
      stream.uncork();
    });
  }

  #nameFor(text: string): string | undefined {
    const known = this.#statements.get(text);
    if (typeof known === "string") return known;
    if (this.#prepared >= MAX_PREPARED) return undefined;
    if (known === undefined) {
      this.#statements.set(text, 1);
      return undefined;
    }
    const name = `orderflow_${++this.#prepared}`;
    this.#statements.set(text, name);
    return name;
  }

  // pg's query() has many overloads; only the (text, values) promise form kysely uses changes, and
  // the instance keeps pg's types.
  constructor(config?: string | pg.ClientConfig) {
    super(
      typeof config === "string"
        ? { connectionString: config, pipeline: true }
        : { ...config, pipeline: true },
    );
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const send = (text: string, values: unknown[]): Promise<unknown> => {
      const name = values.length > 0 && this.#nameFor(text);
      if (!name) return query(text, values) as Promise<unknown>;
      return (query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
        // A migration changed the columns a prepared statement returns (say, `SELECT *` while a
        // newer instance added a column): PostgreSQL refuses the cached plan. This attempt fails
        // (the consumer retries it without counting it against the message); every text starts
        // over, to be prepared afresh under a new name.
        if ((err as { code?: string }).code === "0A000") this.#statements.clear();
        throw err;
      });
    };
    const defer = (marked: string, values: unknown[]): Promise<unknown> => {
      this.#cork();
      const { text, owner } = marked.startsWith(MARK) ? unmark(marked) : { text: marked, owner: undefined };
      const d: Deferred = {
        done: send(text, values).catch((err: unknown) => {
          if (owner !== undefined && err !== null && typeof err === "object") {
            Object.defineProperty(err, OWNER, { value: owner });
          }
          d.failure = { err };
        }),
      };
      this.#deferred.push(d);
      return Promise.resolve(emptyResult());
    };
    /** Waits for `p`, but throws the first failure of the deferred statements sent before it. */
    const behindDeferred = async (p: Promise<unknown>, discard: boolean): Promise<unknown> => {
      const before = this.#deferred.splice(0);
      await Promise.all(before.map((d) => d.done));
      const failed = before.find((d) => d.failure)?.failure;
      if (!failed || discard) return p;
      p.catch(() => {}); // most likely "current transaction is aborted": the deferred error says why
      throw failed.err;
    };
    this.query = ((...args: unknown[]) => {
      const [text, values, callback] = args;
      if (typeof text !== "string" || !Array.isArray(values) || callback !== undefined) {
        // Not kysely's form: nothing is deferred, but a transaction it ends is over.
        const t = typeof text === "string" ? text : (text as { text?: unknown } | null)?.text;
        if (typeof t === "string" && t.length < 64 && /^\s*(commit|end|rollback|abort)\s*;?\s*$/i.test(t)) {
          this.#inTransaction = false;
        }
        return query(...args);
      }
      const command = text.length < 64 ? text.trim().toLowerCase() : "";
      if (isBegin(command)) {
        this.#inTransaction = true;
        return defer(text, values);
      }
      if (text.startsWith(MARK)) {
        if (this.#inTransaction) return defer(text, values);
        return send(unmark(text).text, values);
      }
      const abandons = command === "rollback" || command === "abort";
      if (abandons || command === "commit" || command === "end") this.#inTransaction = false;
      const p = send(text, values);
      return this.#deferred.length ? behindDeferred(p, abandons) : p;
    }) as pg.Client["query"];
  }
}

import pg from "pg";

/** Named statements per connection; past this, queries go unnamed (no DEALLOCATE needed). */
const MAX_PREPARED = 256;

/**
 * A pg client that turns a parameterised query it has seen before into a named prepared statement
 * on its connection. Kysely sends every query as text: PostgreSQL would parse and plan each one
 * again, which under load is a third of its CPU (measured with perf on the flow benchmark). A text
 * is prepared on its second use, so one-off statements (migrations, ad hoc SQL) never are, and at
 * most MAX_PREPARED per connection, so texts that vary (IN lists, multi-row VALUES) stay bounded.
 *
 * @example new pg.Pool({ connectionString, Client: PreparingClient })
 */
export class PreparingClient extends pg.Client {
  /** Text → statement name once prepared, or → times seen. */
  readonly #statements = new Map<string, string | number>();
  #prepared = 0;

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
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      const [text, values, callback] = args;
      const name =
        typeof text === "string" && Array.isArray(values) && callback === undefined && this.#nameFor(text);
      if (!name) return query(...args);
      return (query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
        // A migration changed the columns a prepared statement returns (say, `SELECT *` while a
        // newer instance added a column): PostgreSQL refuses the cached plan. This attempt fails
        // (the consumer retries it without counting it against the message); every text starts
        // over, to be prepared afresh under a new name.
        if ((err as { code?: string }).code === "0A000") this.#statements.clear();
        throw err;
      });
    }) as pg.Client["query"];
  }
}

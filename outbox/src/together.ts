import { sql, type OperationNodeSource } from "kysely";
import { deferredMark } from "./prepared.js";
import type { AnyDb, AnyTransaction } from "./types.js";

/**
 * Runs queries whose results nobody reads — writes, and locks such as `pg_advisory_xact_lock` —
 * as one statement, all but the last as CTEs (those must modify data: a SELECT CTE nobody reads is
 * never run). They share one snapshot and do not see each other's writes, so they must not touch
 * the same rows. Inside a transaction on a `PreparingClient` the statement is deferred: it is sent
 * and not waited for; a failure surfaces at the transaction's next statement or at its COMMIT.
 */
export async function executeTogether(
  db: AnyDb | AnyTransaction,
  queries: readonly OperationNodeSource[],
): Promise<void> {
  const last = queries.at(-1);
  if (!last) return;
  const ctes = queries.slice(0, -1).map((q, i) => sql`${sql.id(`w${i}`)} AS (${q})`);
  const mark = sql.raw(deferredMark(db));
  await (ctes.length ? sql`${mark}WITH ${sql.join(ctes)} ${last}` : sql`${mark}${last}`).execute(db);
}

import { sql, type OperationNodeSource } from "kysely";
import type { AnyDb, AnyTransaction } from "./types.js";

/**
 * Runs data-modifying queries as one statement, all but the last as CTEs: one round trip instead
 * of one each, which is most of what a small write costs. They share one snapshot and do not see
 * each other's writes, so they must not touch the same rows.
 */
export async function executeTogether(
  db: AnyDb | AnyTransaction,
  queries: readonly OperationNodeSource[],
): Promise<void> {
  const last = queries.at(-1);
  if (!last) return;
  const ctes = queries.slice(0, -1).map((q, i) => sql`${sql.id(`w${i}`)} AS (${q})`);
  await (ctes.length ? sql`WITH ${sql.join(ctes)} ${last}` : sql`${last}`).execute(db);
}

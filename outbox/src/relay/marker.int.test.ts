import { waitFor } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { insertRow, outboxDatabase, unpublishedIds, type InsertedRow } from "../../test/outbox-database.js";
import { Marker, type MarkerOptions } from "./marker.js";
import { RoundFailure } from "./round-failure.js";

async function marker(url: string, rows: readonly InsertedRow[], opts: Partial<MarkerOptions> = {}) {
  const marked: number[] = [];
  const unmarked = new Set(rows.map((r) => r.id));
  const round = new RoundFailure(() => {});
  const m = await Marker.open({
    connectionString: url,
    batchSize: 500,
    unmarked,
    signal: new AbortController().signal,
    round,
    onMarked: (n) => void marked.push(n),
    onSettled: () => {},
    ...opts,
  });
  return { marker: m, marked, unmarked, round, [Symbol.asyncDispose]: () => m.close() };
}

describe("Marker", () => {
  it("marks a trickle of acknowledged rows in one UPDATE, after beforeMark, and lets go of their ids", async () => {
    await using database = await outboxDatabase();
    const rows = [
      await insertRow(database.pool),
      await insertRow(database.pool),
      await insertRow(database.pool),
    ];
    const before: { eventIds: readonly string[]; unpublished: number }[] = [];
    await using m = await marker(database.url, rows, {
      beforeMark: async (eventIds) => {
        before.push({ eventIds, unpublished: (await unpublishedIds(database.pool)).length });
      },
    });

    for (const r of rows) m.marker.push(r);
    await waitFor("marks done", () => !m.marker.busy);

    expect(m.marked).toEqual([3]);
    expect(before).toEqual([{ eventIds: rows.map((r) => r.event_id), unpublished: 3 }]);
    expect(await unpublishedIds(database.pool)).toEqual([]);
    expect(m.unmarked.size).toBe(0);
    expect(m.round.failed).toBe(false);
  });

  it("a failed mark fails the round, leaves its rows unpublished, and marks nothing after it", async () => {
    await using database = await outboxDatabase();
    const rows = [await insertRow(database.pool), await insertRow(database.pool)];
    await using m = await marker(database.url, rows, {
      beforeMark: () => {
        throw new Error("crash before the mark");
      },
    });

    m.marker.push(rows[0]!);
    await waitFor("the round fails", () => m.round.failed);
    await waitFor("marks done", () => !m.marker.busy);
    m.marker.push(rows[1]!);

    expect(m.marker.busy).toBe(false);
    expect(() => m.round.throwIfFailed()).toThrow("crash before the mark");
    expect(m.marked).toEqual([]);
    expect(await unpublishedIds(database.pool)).toEqual(rows.map((r) => r.id));
    // The failed row is no longer unmarked (a later round reads it again); the one pushed after waits.
    expect([...m.unmarked]).toEqual([rows[1]!.id]);
  });
});

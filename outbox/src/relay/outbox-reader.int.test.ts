import pg from "pg";
import { describe, expect, it } from "vitest";
import { insertRow, outboxDatabase } from "../../test/outbox-database.js";
import { OutboxReader } from "./outbox-reader.js";

async function session(url: string): Promise<pg.Client & AsyncDisposable> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return Object.assign(c, { [Symbol.asyncDispose]: () => c.end() });
}

const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);

describe("OutboxReader", () => {
  it("reads batches in id order, each row framed as NATS headers (Nats-Msg-Id added) then payload", async () => {
    await using database = await outboxDatabase();
    await using c = await session(database.url);
    const inserted = [];
    for (let i = 0; i < 5; i++)
      inserted.push(await insertRow(database.pool, { "ce-subject": `o-${i % 2}` }, `{"i":${i}}`));
    const reader = new OutboxReader(c, 2, new Set());

    const first = await reader.next();
    expect(ids(first)).toEqual(ids(inserted.slice(0, 2)));
    expect(reader.caughtUp).toBe(false);
    expect(ids(await reader.next())).toEqual(ids(inserted.slice(2, 4)));
    expect(ids(await reader.next())).toEqual(ids(inserted.slice(4)));
    expect(reader.caughtUp).toBe(true);

    const row = first[0]!;
    // In jsonb key order: shorter keys first.
    const head = `NATS/1.0\r\nce-subject: o-0\r\nNats-Msg-Id: ${row.event_id}\r\n\r\n`;
    expect(row).toMatchObject({ key: "o-0", valid: true, head_bytes: Buffer.byteLength(head) });
    expect(row.frame.toString()).toBe(`${head}{"i":0}`);
  });

  it("flags a row whose header value holds a line break: it cannot travel as a NATS header", async () => {
    await using database = await outboxDatabase();
    await using c = await session(database.url);
    await insertRow(database.pool, { "ce-subject": "o-1", "x-note": "a\r\nce-type: forged" });
    const [row] = await new OutboxReader(c, 10, new Set()).next();
    expect(row?.valid).toBe(false);
  });

  it("once caught up, reads from the start again: a row that commits late with a lower id is found", async () => {
    await using database = await outboxDatabase();
    await using c = await session(database.url);
    await using late = await session(database.url);
    await late.query("BEGIN");
    const lower = await insertRow(late);
    const higher = await insertRow(database.pool);
    const unmarked = new Set<string>();
    const reader = new OutboxReader(c, 10, unmarked);

    expect(ids(await reader.next())).toEqual([higher.id]);
    expect(reader.caughtUp).toBe(true);
    unmarked.add(higher.id); // in flight: a rescan must not send it again
    await late.query("COMMIT");
    expect(ids(await reader.next())).toEqual([lower.id]);
    unmarked.clear(); // its publish failed: both are due again
    expect(ids(await reader.next())).toEqual([lower.id, higher.id]);
  });
});

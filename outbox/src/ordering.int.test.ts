import { catalog } from "@orderflow/contracts";
import { waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { spawnChild } from "../test/child.js";
import { countRows, rig, streamMessages, type Rig } from "../test/fixture.js";
import { countingDuplicates, enqueueOrders, enqueueStock, order, stockSequences } from "../test/workload.js";
import { createOutbox, createRelay, type Relay } from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

/** Holds a transaction open after it enqueued one event; `commit()` lets it finish. */
async function heldTransaction(
  r: Rig,
  i: number,
): Promise<{ eventId: string; rowId: bigint; commit(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let enqueued!: (v: { eventId: string; rowId: bigint }) => void;
  const ready = new Promise<{ eventId: string; rowId: bigint }>((resolve) => (enqueued = resolve));
  const done = r.db.transaction().execute(async (trx) => {
    const eventId = await outbox.enqueue(trx, "order.created", order(i));
    const row = await sql<{
      id: string;
    }>`SELECT id FROM orderflow_outbox WHERE event_id = ${eventId}`.execute(trx);
    enqueued({ eventId, rowId: BigInt(row.rows[0]!.id) });
    await released;
  });
  const { eventId, rowId } = await ready;
  return {
    eventId,
    rowId,
    commit: async () => {
      release();
      await done;
    },
  };
}

async function rowIdsByEvent(r: Rig): Promise<Map<string, bigint>> {
  const rows = await sql<{ id: string; event_id: string }>`SELECT id, event_id FROM orderflow_outbox`.execute(
    r.db,
  );
  return new Map(rows.rows.map((x) => [x.event_id, BigInt(x.id)]));
}

describe("ordering and concurrency", () => {
  it("never skips a row whose transaction commits after later ids were published", async () => {
    await using r = await rig();
    const relay = createRelay({
      connectionString: r.databaseUrl,
      js: r.js,
      batchSize: 5,
      pollIntervalMs: 60_000,
    });
    relay.start();
    // Three transactions take low ids and stay open while 30 later ones commit and go out.
    const held = [await heldTransaction(r, 0)];
    await enqueueOrders(r.db, outbox, 10, 100);
    held.push(await heldTransaction(r, 1));
    await enqueueOrders(r.db, outbox, 10, 200);
    held.push(await heldTransaction(r, 2));
    await enqueueOrders(r.db, outbox, 10, 300);
    await waitFor("the 30 committed events published", async () => (await r.streamCount("ORDERS")) === 30);
    const ids = await rowIdsByEvent(r);
    expect(Math.min(...[...ids.values()].map(Number))).toBeGreaterThan(Number(held[0]!.rowId));

    // Commit them newest first; each is published although higher ids are long gone.
    for (const [k, h] of [...held].reverse().entries()) {
      await h.commit();
      await waitFor(
        `held transaction ${k} published`,
        async () => (await r.streamCount("ORDERS")) === 31 + k,
        {
          timeoutMs: 5000,
        },
      );
    }
    const messages = await streamMessages(r.jsm, "ORDERS");
    expect(messages.slice(-3).map((m) => m.id)).toEqual([...held].reverse().map((h) => h.eventId));
    expect(new Set(messages.map((m) => m.id)).size).toBe(33);
    expect(await countRows(r.db, "published_at IS NULL")).toBe(0);
    await relay.stop();
  }, 30_000);

  it("concurrent writers committing out of id order: every row published exactly once", async () => {
    await using r = await rig();
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js, batchSize: 10 });
    relay.start();
    const writers = 8;
    const perWriter = 50;
    const enqueued: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          await r.db.transaction().execute(async (trx) => {
            enqueued.push(await outbox.enqueue(trx, "order.created", order(w * 1000 + i)));
            // Hold the row's id uncommitted for a random moment so that commits overtake each other.
            await sql`SELECT pg_sleep(random() * 0.004)`.execute(trx);
          });
        }
      }),
    );
    const N = writers * perWriter;
    await waitFor(`${N} published`, async () => (await countRows(r.db, "published_at IS NULL")) === 0);
    const messages = await streamMessages(r.jsm, "ORDERS");
    expect(messages).toHaveLength(N);
    expect(new Set(messages.map((m) => m.id))).toEqual(new Set(enqueued));
    // The premise held: the relay saw rows commit out of id order (a lower id published later).
    const rowIds = await rowIdsByEvent(r);
    let inversions = 0;
    let highest = 0n;
    for (const m of messages) {
      const id = rowIds.get(m.id)!;
      if (id < highest) inversions++;
      else highest = id;
    }
    expect(inversions).toBeGreaterThan(0);
    await relay.stop();
  }, 30_000);

  it("a publish JetStream rejects is retried, and no later event of its aggregate overtakes it", async () => {
    await using r = await rig();
    const N = await enqueueStock(r.db, outbox, 10, 10);
    // A real per-message failure: JetStream refuses a message whose expected stream is not its own.
    await sql`
      UPDATE orderflow_outbox SET headers = headers || '{"Nats-Expected-Stream": "ELSEWHERE"}'::jsonb
      WHERE headers->>'ce-subject' = 'sku-3' AND convert_from(payload, 'UTF8')::jsonb->>'available' = '5'`.execute(
      r.db,
    );
    const logs: { msg?: string; err?: string }[] = [];
    const logger = pino(
      { level: "warn" },
      { write: (line: string) => void logs.push(JSON.parse(line) as { msg?: string }) },
    );
    const relay = createRelay({
      connectionString: r.databaseUrl,
      js: r.js,
      logger,
      batchSize: 8,
      maxBackoffMs: 200,
    });
    relay.start();
    try {
      // Everything else gets through; sku-3 stops before its 5th event and nothing after it is sent.
      await waitFor(
        "all but sku-3's last five published",
        async () => (await r.streamCount("INVENTORY")) === N - 5,
      );
      expect(logs.some((l) => l.msg === "relay round failed" && /expected stream/i.test(l.err ?? ""))).toBe(
        true,
      );
      const blocked = stockSequences(await streamMessages(r.jsm, "INVENTORY"));
      expect(blocked.get("sku-3")).toEqual([0, 1, 2, 3, 4]);

      await sql`UPDATE orderflow_outbox SET headers = headers - 'Nats-Expected-Stream'`.execute(r.db);
      await waitFor("the rest published", async () => (await countRows(r.db, "published_at IS NULL")) === 0);
      const messages = await streamMessages(r.jsm, "INVENTORY");
      expect(messages).toHaveLength(N);
      for (const [sku, seq] of stockSequences(messages)) expect(seq, sku).toEqual([...Array(10).keys()]);
    } finally {
      await relay.stop();
    }
  }, 30_000);

  it("two relays on one outbox: exactly one leader, per-aggregate order holds, the standby takes over", async () => {
    await using r = await rig();
    const relays = [0, 1].map(() =>
      createRelay({ connectionString: r.databaseUrl, js: r.js, batchSize: 7, pollIntervalMs: 50 }),
    );
    let both = 0;
    const watch = setInterval(() => {
      if (relays.every((x) => x.isLeader)) both++;
    }, 2);
    try {
      for (const x of relays) x.start();
      const leader = await waitFor("a leader", () => relays.find((x) => x.isLeader));
      const standby = relays.find((x) => x !== leader)!;
      expect(standby.isLeader).toBe(false);
      expect(await advisoryLockHolders(r)).toBe(1);

      await enqueueStock(r.db, outbox, 20, 15);
      await waitFor("first half published", async () => (await r.streamCount("INVENTORY")) === 300);
      expect(standby.isLeader).toBe(false);

      await leader.stop();
      await waitFor("the standby takes over", () => standby.isLeader);
      await enqueueStock(r.db, outbox, 20, 15, 15);
      await waitFor("second half published", async () => (await r.streamCount("INVENTORY")) === 600);
      expect(await advisoryLockHolders(r)).toBe(1);

      const messages = await streamMessages(r.jsm, "INVENTORY");
      expect(new Set(messages.map((m) => m.id)).size).toBe(600);
      for (const [sku, seq] of stockSequences(messages)) expect(seq, sku).toEqual([...Array(30).keys()]);
      expect(both).toBe(0);
    } finally {
      clearInterval(watch);
      await Promise.all(relays.map((x: Relay) => x.stop()));
    }
  }, 30_000);

  it("a leader SIGKILLed mid-drain: the standby takes over, nothing lost, per-aggregate order holds", async () => {
    await using r = await rig();
    const N = await enqueueStock(r.db, outbox, 20, 30);
    const observed = countingDuplicates(r.js);
    const standby = createRelay({
      connectionString: r.databaseUrl,
      js: observed.js,
      batchSize: 25,
      pollIntervalMs: 50,
    });
    try {
      let unmarkedAtKill: string[];
      {
        await using child = spawnChild("relay-child.ts", {
          DATABASE_URL: r.databaseUrl,
          NATS_URL: r.nats.url,
          BATCH_SIZE: "20",
          MAX_IN_FLIGHT: "20",
          BLOCK_AT_MARK: "3",
        });
        await child.line("leader", (l) => l.leader === true);
        standby.start();
        const blocked = await child.line("acknowledged, not marked", (l) => Array.isArray(l.beforeMark));
        expect(standby.isLeader).toBe(false);
        await child.kill("SIGKILL");
        unmarkedAtKill = blocked.beforeMark as string[];
      }
      const inStream = await r.streamCount("INVENTORY");
      expect(inStream).toBeGreaterThan(0);
      expect(inStream).toBeLessThan(N);

      await waitFor("the standby takes over", () => standby.isLeader);
      await waitFor("outbox drained", async () => (await countRows(r.db, "published_at IS NULL")) === 0);
      const messages = await streamMessages(r.jsm, "INVENTORY");
      expect(messages).toHaveLength(N);
      expect(new Set(messages.map((m) => m.id)).size).toBe(N);
      for (const [sku, seq] of stockSequences(messages)) expect(seq, sku).toEqual([...Array(30).keys()]);
      // What the dead leader had published but not marked went out again and was dropped.
      expect(observed.duplicates()).toBeGreaterThanOrEqual(unmarkedAtKill.length);
    } finally {
      await standby.stop();
    }
  }, 30_000);
});

async function advisoryLockHolders(r: Rig): Promise<number> {
  const res = await sql<{ n: string }>`
    SELECT count(*) AS n FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(
    r.db,
  );
  return Number(res.rows[0]!.n);
}

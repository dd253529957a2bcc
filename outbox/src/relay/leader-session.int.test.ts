import { testDatabase, waitFor } from "@orderflow/testing";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { OUTBOX_CHANNEL } from "../migrations.js";
import { LeaderSession, type LeaderSessionOptions } from "./leader-session.js";

/** A session that counts its notifications and losses. */
function counted(url: string, opts: Partial<LeaderSessionOptions> = {}) {
  const seen = { notified: 0, lost: 0 };
  const session = new LeaderSession({
    connectionString: url,
    listen: true,
    onNotify: () => void seen.notified++,
    onLost: () => void seen.lost++,
    ...opts,
  });
  return { session, seen };
}

async function sql(url: string, text: string, values: unknown[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text, values);
  } finally {
    await c.end();
  }
}

describe("LeaderSession", () => {
  it("one leader per database; when PostgreSQL ends its session, it notices once and a standby takes over", async () => {
    await using database = await testDatabase("relay");
    const a = counted(database.url);
    const b = counted(database.url);
    try {
      const leading = await a.session.acquire();
      expect(leading).toBeDefined();
      expect(a.session.isLeader).toBe(true);
      expect(await b.session.acquire()).toBeUndefined();
      expect(b.session.isLeader).toBe(false);

      const { pid } = (await leading!.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!;
      await sql(database.url, "SELECT pg_terminate_backend($1)", [pid]);
      await waitFor("the leader notices its session is gone", () => a.seen.lost > 0);
      expect(a.seen.lost).toBe(1);
      expect(a.session.isLeader).toBe(false);
      expect(a.session.holds(leading!)).toBe(false);

      await waitFor("the standby takes the lock", () => b.session.acquire());
      expect(b.session.isLeader).toBe(true);
      // The old leader reconnects as a standby.
      expect(await a.session.acquire()).toBeUndefined();
      expect(b.seen.lost).toBe(0);
    } finally {
      await a.session.close();
      await b.session.close();
    }
  });

  it("LISTENs for the outbox's NOTIFY unless told to poll, leader or not", async () => {
    await using database = await testDatabase("relay");
    const listening = counted(database.url);
    const polling = counted(database.url, { listen: false });
    try {
      await polling.session.acquire();
      expect(await listening.session.acquire()).toBeUndefined();
      await sql(database.url, `NOTIFY ${OUTBOX_CHANNEL}`);
      await waitFor("the listening session is notified", () => listening.seen.notified > 0);
      // Both sessions had as long as `listening` took for two notifications.
      await sql(database.url, `NOTIFY ${OUTBOX_CHANNEL}`);
      await waitFor("the second notification", () => listening.seen.notified > 1);
      expect(polling.seen.notified).toBe(0);
    } finally {
      await listening.session.close();
      await polling.session.close();
    }
  });
});

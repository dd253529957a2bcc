import { catalog } from "@orderflow/contracts";
/**
 * Recovery benchmark (`npm run bench:recovery`): replay and rebuild against a private nats-server
 * and a fresh database on DATABASE_URL's server (or an embedded one). Prints a table and writes
 * bench-results/recovery.json. Not a test: figures depend on the machine; the ratios are measured in
 * one run.
 *
 * (a) raw: an ordered consumer reading N stored order.created events (no decode, no database);
 * (b) `orderflow replay --service inventory --stream ORDERS` over them on an empty inventory: every
 *     event decoded and applied through the runtime (inbox + reservation + emitted event);
 * (c) the same replay again: every event a duplicate, what re-running a replay costs;
 * (d) `orderflow rebuild inventory` from the N+ events (b) published, then the state compared.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import type { EventData, EventName } from "@orderflow/contracts";
import { dropDatabase, ensureDatabase, NatsServer, resolvePostgres, waitFor } from "@orderflow/testing";
import { definition as inventory } from "@orderflow/inventory";
import {
  createRelay,
  ensureStreams,
  migrate,
  openDatabase,
  readStream,
  rebuildDatabase,
  Topology,
} from "@orderflow/outbox";
import { sql } from "kysely";
import { rebuildOptions } from "../src/recovery/context.js";
import { replay } from "../src/recovery/replay.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const SKUS = 10;
const round = (n: number) => Math.round(n * 100) / 100;

/** Async publish with a bounded window, as another service's relay would. */
async function publishAll<K extends EventName>(
  js: JetStreamClient,
  events: { name: K; data: EventData<K>; source: string; correlationId: string }[],
): Promise<void> {
  const window: Promise<unknown>[] = [];
  for (const e of events) {
    const id = newEventId();
    const enc = catalog.encode(e.name, e.data, {
      id,
      source: e.source,
      time: new Date(),
      correlationId: e.correlationId,
    });
    const h = natsHeaders();
    for (const [k, v] of Object.entries(enc.headers)) h.set(k, v);
    window.push(js.publish(enc.subject, enc.data, { headers: h, msgID: id }));
    if (window.length >= 1000) await Promise.all(window.splice(0));
  }
  await Promise.all(window);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-bench-recovery-"));
  const nats = await NatsServer.spawn({ storeDir: join(dir, "nats") });
  const server = await resolvePostgres({ dataDir: dir });
  const database = `bench_recovery_${Date.now().toString(36)}`;
  const url = await ensureDatabase(server.url, database);
  const nc = await connect({ servers: nats.url, noAsyncTraces: true }); // as the orderflow CLI connects
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const topology = new Topology();
  const env = { ...process.env, NATS_URL: nats.url, DATABASE_URL: server.url, INVENTORY_DATABASE_URL: url };
  const db = openDatabase<Record<string, never>>({ connectionString: url, max: 2 });
  try {
    await ensureStreams(jsm, { streams: catalog.streams });
    await migrate(db, inventory.migrations);
    // Stock as inventory would have it: rows, and the stock.set events a rebuild starts from.
    const skus = Array.from({ length: SKUS }, (_, i) => ({ sku: `sku-${i}`, available: 10 * N }));
    for (const s of skus)
      await sql`INSERT INTO stock (sku, available, reserved) VALUES (${s.sku}, ${s.available}, 0)`.execute(
        db,
      );
    await publishAll(
      js,
      skus.map((s) => ({
        name: "stock.set" as const,
        data: s,
        source: "/orderflow/inventory",
        correlationId: s.sku,
      })),
    );
    process.stdout.write(`publishing ${N} order.created… `);
    await publishAll(
      js,
      Array.from({ length: N }, (_, i) => ({
        name: "order.created" as const,
        data: {
          orderId: `o-${i}`,
          customerId: `c-${i % 20}`,
          items: [{ sku: `sku-${i % SKUS}`, quantity: 1, unitPriceCents: 100 }],
          totalCents: 100,
          currency: "USD",
        },
        source: "/orderflow/order",
        correlationId: `o-${i}`,
      })),
    );
    console.log("done");

    // (a) raw ordered-consumer read.
    let t = performance.now();
    const read = await readStream({ js, jsm, stream: "ORDERS" }, () => {});
    const rawMs = performance.now() - t;

    // (b) replay into an empty inventory: everything applied.
    t = performance.now();
    const first = await replay({ definition: inventory, env, js, jsm, topology, stream: "ORDERS" });
    const replayMs = performance.now() - t;

    // (c) the same replay again: everything a duplicate.
    t = performance.now();
    const again = await replay({ definition: inventory, env, js, jsm, topology, stream: "ORDERS" });
    const againMs = performance.now() - t;

    // (d) rebuild from what (b) emitted, once the relay has published it.
    const relay = createRelay({ connectionString: url, js });
    relay.start();
    const expected = N + SKUS;
    await waitFor(
      `${expected} inventory events published`,
      async () => (await jsm.streams.info("INVENTORY")).state.messages >= expected,
      { timeoutMs: 600_000 },
    );
    await relay.stop();
    const snapshot = async () =>
      (await sql`SELECT sku, available, reserved FROM stock ORDER BY sku`.execute(db)).rows;
    const before = await snapshot();
    await db.destroy();
    t = performance.now();
    const rebuilt = await rebuildDatabase({
      ...(await rebuildOptions(inventory)),
      connectionString: url,
      nc,
      js,
      jsm,
      topology,
    });
    const rebuildMs = performance.now() - t;
    await using check = openDatabase<Record<string, never>>({ connectionString: url, max: 1 });
    const after = (await sql`SELECT sku, available, reserved FROM stock ORDER BY sku`.execute(check)).rows;
    const identical = JSON.stringify(after) === JSON.stringify(before);

    const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
    const result = {
      events: N,
      rawRead: { events: read, ms: round(rawMs), perSecond: rate(read, rawMs) },
      replay: { ...first, ms: round(replayMs), perSecond: rate(first.read, replayMs) },
      replayAgain: { ...again, ms: round(againMs), perSecond: rate(again.read, againMs) },
      rebuild: {
        events: rebuilt.events,
        applied: rebuilt.applied,
        ms: round(rebuildMs),
        perSecond: rate(rebuilt.events, rebuildMs),
        identical,
      },
      ratios: {
        replayVsRaw: round(rate(first.read, replayMs) / rate(read, rawMs)),
        replayAgainVsRaw: round(rate(again.read, againMs) / rate(read, rawMs)),
      },
    };
    console.table({
      "raw ordered read": {
        events: read,
        seconds: round(rawMs / 1000),
        "events/s": result.rawRead.perSecond,
        "vs raw": 1,
      },
      "replay (all applied)": {
        events: first.read,
        seconds: round(replayMs / 1000),
        "events/s": result.replay.perSecond,
        "vs raw": result.ratios.replayVsRaw,
      },
      "replay (all duplicates)": {
        events: again.read,
        seconds: round(againMs / 1000),
        "events/s": result.replayAgain.perSecond,
        "vs raw": result.ratios.replayAgainVsRaw,
      },
      "rebuild inventory": {
        events: rebuilt.events,
        seconds: round(rebuildMs / 1000),
        "events/s": result.rebuild.perSecond,
        "vs raw": round(result.rebuild.perSecond / result.rawRead.perSecond),
      },
    });
    console.log(
      `replay: ${first.applied} applied, ${first.duplicate} duplicates; again: ${again.applied} applied, ${again.duplicate} duplicates`,
    );
    console.log(`rebuild restored the same stock: ${identical}`);
    mkdirSync(join(root, "bench-results"), { recursive: true });
    writeFileSync(join(root, "bench-results", "recovery.json"), JSON.stringify(result, null, 2));
    console.log(`wrote ${join(root, "bench-results", "recovery.json")}`);
    if (!identical || first.applied !== N || again.duplicate !== N) process.exitCode = 1;
  } finally {
    await db.destroy().catch(() => {});
    await nc.close();
    await nats.stop();
    await dropDatabase(server.url, database).catch(() => {});
    await server.stop();
  }
}

await main();

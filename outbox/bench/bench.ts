import { catalog } from "@orderflow/contracts";
/**
 * The outbox runtime's benchmark: `npm run bench` (in outbox/), with DATABASE_URL pointing at a
 * PostgreSQL server (a fresh database is created and dropped) and a private nats-server spawned
 * for the run. Prints a table and writes bench-results/outbox.json.
 *
 * (a) raw JetStream async publish vs the relay draining a 100k-row backlog (same client, same
 *     message size and headers, same in-flight window);
 * (b) commit-to-PubAck latency at a steady 1,000 events/s, each event its own transaction;
 * (c) consumer runtime (decode + tx + inbox + ack, trivial handler) vs raw consume + ack;
 * (d) (a) and (b) for a polling relay (`listen: false, pollIntervalMs: 100`).
 *
 * The machine is shared, so the kinds of each measure alternate (TRIALS rounds): throughput shows
 * the median round, latency pools the samples of all rounds. A "floor" row publishes each event
 * right after its commit with no relay at all: what the machine allows under the same load.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
} from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { testDatabase, testNats, waitFor } from "@orderflow/testing";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import {
  createConsumer,
  createOutbox,
  createRelay,
  ensureStreams,
  migrate,
  PreparingClient,
  type AnyDb,
  type RelayOptions,
} from "../src/index.js";

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const STEADY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
// The consumer runtime commits a transaction per message: a smaller sample keeps the run short.
const CONSUME = Number(process.env.BENCH_CONSUME ?? 20_000);
// The relay's default maxInFlight: raw publishing gets the same window.
const WINDOW = 1000;
const STREAM = "ORDERS";

const orderData = (i: number) => ({
  orderId: `o-${i}`,
  customerId: "c-1",
  items: [{ sku: "sku-1", quantity: 1, unitPriceCents: 1999 }],
  totalCents: 1999,
  currency: "USD",
});

const template = catalog.encode("order.created", orderData(0), {
  id: newEventId(),
  source: "/orderflow/bench",
  time: new Date(),
  correlationId: "o-0",
});

/** The headers an outbox row of event `id` for order `i` carries. */
function headersOf(id: string, i: number): Record<string, string> {
  return {
    ...template.headers,
    "ce-id": id,
    "Nats-Msg-Id": id,
    "ce-subject": `o-${i}`,
    "ce-correlationid": `o-${i}`,
  };
}

const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

const percentile = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;

async function purge(js: JetStreamClient): Promise<void> {
  const jsm = await js.jetstreamManager();
  await jsm.streams.purge(STREAM);
}

/** (a) raw: async publish with a bounded window, headers built per message as the relay does. */
async function rawPublish(js: JetStreamClient, n: number): Promise<number> {
  const messages = Array.from({ length: n }, (_, i) => {
    const id = randomUUID();
    return { id, headers: headersOf(id, i), payload: new TextEncoder().encode(JSON.stringify(orderData(i))) };
  });
  let inFlight = 0;
  let release: (() => void) | undefined;
  let failed = 0;
  const t0 = performance.now();
  for (const m of messages) {
    if (inFlight >= WINDOW) await new Promise<void>((r) => (release = r));
    inFlight++;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
    js.publish(template.subject, m.payload, { msgID: m.id, headers: h, timeout: 5000 })
      .then(
        () => {},
        () => void failed++,
      )
      .finally(() => {
        inFlight--;
        const r = release;
        release = undefined;
        r?.();
      });
  }
  await waitFor("raw publishes acknowledged", () => inFlight === 0, { timeoutMs: 120_000, intervalMs: 1 });
  const seconds = (performance.now() - t0) / 1000;
  if (failed) throw new Error(`${failed} raw publishes failed`);
  return n / seconds;
}

/** A backlog of `n` valid order.created rows, inserted in one statement. */
async function insertBacklog(db: AnyDb, n: number): Promise<void> {
  const base = { ...template.headers };
  delete base["ce-id"];
  delete base["Nats-Msg-Id"];
  delete base["ce-subject"];
  delete base["ce-correlationid"];
  await sql`
    INSERT INTO orderflow_outbox (event_id, subject, headers, payload)
    SELECT u, ${template.subject},
           ${JSON.stringify(base)}::jsonb || jsonb_build_object(
             'ce-id', u::text, 'Nats-Msg-Id', u::text, 'ce-subject', 'o-' || g, 'ce-correlationid', 'o-' || g),
           convert_to(json_build_object(
             'orderId', 'o-' || g, 'customerId', 'c-1',
             'items', json_build_array(json_build_object('sku', 'sku-1', 'quantity', 1, 'unitPriceCents', 1999)),
             'totalCents', 1999, 'currency', 'USD')::text, 'UTF8')
    FROM (SELECT g, gen_random_uuid() AS u FROM generate_series(1, ${n}::int) AS g) AS s`.execute(db);
}

type RelayTuning = Pick<RelayOptions, "listen" | "pollIntervalMs">;

/** (a) relay: drains a backlog of `n` rows; rate measured from start to the last row marked. */
async function relayDrain(
  db: AnyDb,
  url: string,
  js: JetStreamClient,
  n: number,
  tuning: RelayTuning,
): Promise<number> {
  await sql`TRUNCATE orderflow_outbox`.execute(db);
  await purge(js);
  await insertBacklog(db, n);
  await sql`VACUUM ANALYZE orderflow_outbox`.execute(db);
  let published = 0;
  const relay = createRelay({
    connectionString: url,
    js,
    ...tuning,
    onPublished: (k) => void (published += k),
  });
  const t0 = performance.now();
  relay.start();
  await waitFor("backlog drained", () => published >= n, { timeoutMs: 300_000, intervalMs: 1 });
  const seconds = (performance.now() - t0) / 1000;
  await relay.stop();
  const inStream = (await (await js.jetstreamManager()).streams.info(STREAM)).state.messages;
  if (inStream !== n) throw new Error(`relay drain: ${inStream} messages in ${STREAM}, expected ${n}`);
  return n / seconds;
}

interface Latency {
  events: number;
  p50: number;
  p99: number;
  max: number;
}

function summarise(samples: number[]): Latency {
  const lat = [...samples].sort((x, y) => x - y);
  return {
    events: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat[lat.length - 1]!,
  };
}

/**
 * (b) commit-to-PubAck: `RATE` transactions per second for `seconds`, one event each; returns the
 * latency of every event in ms.
 * With `"floor"` no relay runs: each event is published by the writer itself right after its
 * commit — the machine's floor for the same load (PostgreSQL commits + JetStream round trips).
 */
async function steadyLatency(
  db: AnyDb,
  url: string,
  js: JetStreamClient,
  tuning: RelayTuning | "floor",
  seconds: number,
): Promise<number[]> {
  await sql`TRUNCATE orderflow_outbox`.execute(db);
  await purge(js);
  const outbox = createOutbox({ catalog, source: "/orderflow/bench" });
  const committedAt = new Map<string, number>();
  const ackedAt = new Map<string, number>();
  // The same client, observed: the moment each PubAck resolves, by event id (= Nats-Msg-Id).
  const probe: RelayOptions["js"] = {
    publish: (subject, payload, o) =>
      js.publish(subject, payload, o).then((ack) => {
        // The relay sends its headers pre-encoded (Nats-Msg-Id among them) instead of `msgID`.
        const id = o?.msgID ?? o?.headers?.get("Nats-Msg-Id");
        if (id) ackedAt.set(id, performance.now());
        return ack;
      }),
  };
  const relay = tuning === "floor" ? undefined : createRelay({ connectionString: url, js: probe, ...tuning });
  relay?.start();
  await relay?.idle();
  const publishNow = (i: number, id: string): void => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headersOf(id, i))) h.set(k, v);
    probe
      .publish(template.subject, template.data, { msgID: id, headers: h, timeout: 5000 })
      .catch(() => void failed++);
  };
  const total = Math.round(RATE * seconds);
  let sent = 0;
  let failed = 0;
  const writes: Promise<void>[] = [];
  const t0 = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
    for (; sent < due; sent++) {
      const i = sent;
      const id = newEventId();
      writes.push(
        db
          .transaction()
          .execute((trx) => outbox.enqueue(trx, "order.created", orderData(i), { id }))
          .then(
            () => {
              committedAt.set(id, performance.now());
              if (!relay) publishNow(i, id);
            },
            () => void failed++,
          ),
      );
    }
    // Pacing, not synchronisation: yield to the event loop for about a millisecond.
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(writes);
  await waitFor("every event acknowledged", () => ackedAt.size >= total - failed, { timeoutMs: 60_000 });
  await relay?.stop();
  if (failed) throw new Error(`${failed} writes failed`);
  return [...committedAt].map(([id, c]) => ackedAt.get(id)! - c);
}

/** (c) the consumer runtime over the stream's `n` messages, and raw consume + ack over the same. */
async function consumers(
  db: AnyDb,
  js: JetStreamClient,
  n: number,
): Promise<{ runtime: number; raw: number }> {
  const jsm = await js.jetstreamManager();
  const outbox = createOutbox({ catalog, source: "/orderflow/bench" });
  let done = 0;
  const consumer = createConsumer({
    catalog,
    name: "bench",
    db,
    js,
    jsm,
    outbox,
    handlers: { "order.created": async () => {} },
    onResult: (r) => {
      if (r === "applied") done++;
    },
  });
  let t0 = performance.now();
  await consumer.start();
  await waitFor("runtime consumed the stream", () => done >= n, { timeoutMs: 300_000, intervalMs: 1 });
  const runtime = n / ((performance.now() - t0) / 1000);
  await consumer.stop();

  await jsm.consumers.add(STREAM, {
    durable_name: "raw",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: template.subject,
    max_ack_pending: 1000,
  });
  const c = await js.consumers.get(STREAM, "raw");
  t0 = performance.now();
  // Same pull size as the runtime's default (batchSize × concurrency = 100).
  const messages = await c.consume({ max_messages: 100 });
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    if (++seen >= n) break;
  }
  const raw = n / ((performance.now() - t0) / 1000);
  await messages.close();
  return { runtime, raw };
}

async function main(): Promise<void> {
  await using nats = await testNats();
  await using database = await testDatabase("bench");
  // As the service host connects (raw and runtime alike): no async stack traces per request.
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const js = jetstream(nc);
  await ensureStreams(await jetstreamManager(nc), { streams: catalog.streams });
  // As the service host does: repeated queries become prepared statements.
  const pool = new pg.Pool({ connectionString: database.url, max: 24, Client: PreparingClient });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrate(db);
    await run(db, database.url, js, nc.info?.version ?? "unknown");
  } finally {
    await db.destroy();
    await nc.close();
  }
}

async function run(db: AnyDb, url: string, js: JetStreamClient, serverVersion: string): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);

  // Throughput trials alternate (raw, relay, polling relay) so that a noisy neighbour on the
  // machine hits all three alike; the table shows the median of each.
  const trials = { raw: [] as number[], drain: [] as number[], pollDrain: [] as number[] };
  const polling: RelayTuning = { listen: false, pollIntervalMs: 100 };
  for (let t = 1; t <= TRIALS; t++) {
    log(`trial ${t}/${TRIALS}: raw JetStream publish of ${BACKLOG} messages…`);
    await purge(js);
    trials.raw.push(await rawPublish(js, BACKLOG));
    log(`trial ${t}/${TRIALS}: relay drain of a ${BACKLOG}-row backlog…`);
    trials.drain.push(await relayDrain(db, url, js, BACKLOG, {}));
    log(`trial ${t}/${TRIALS}: polling relay drain…`);
    trials.pollDrain.push(await relayDrain(db, url, js, BACKLOG, polling));
  }
  const raw = median(trials.raw);
  const drain = median(trials.drain);
  const pollDrain = median(trials.pollDrain);
  log(`consumer runtime vs raw consume over ${CONSUME} messages…`);
  const consume = await consumers(db, js, CONSUME);
  // Latency too alternates: each kind gets STEADY_SECONDS in all, in TRIALS slices.
  const samples = { floor: [] as number[], listen: [] as number[], poll: [] as number[] };
  const slice = STEADY_SECONDS / TRIALS;
  for (let t = 1; t <= TRIALS; t++) {
    log(
      `trial ${t}/${TRIALS}: ${RATE} commits/s for ${slice.toFixed(1)} s each: floor, relay, polling relay…`,
    );
    samples.floor.push(...(await steadyLatency(db, url, js, "floor", slice)));
    samples.listen.push(...(await steadyLatency(db, url, js, {}, slice)));
    samples.poll.push(...(await steadyLatency(db, url, js, polling, slice)));
  }
  const floor = summarise(samples.floor);
  const latency = summarise(samples.listen);
  const pollLatency = summarise(samples.poll);

  const r0 = (x: number) => Math.round(x);
  const ms = (x: number) => Number(x.toFixed(2));
  const rows = [
    { measure: `(a) raw JetStream publish, msgs/s (median of ${TRIALS})`, value: r0(raw), target: "" },
    {
      measure: `(a) relay drain of ${BACKLOG / 1000}k (LISTEN), msgs/s (median)`,
      value: r0(drain),
      target: "",
    },
    { measure: "(a) relay / raw", value: Number((drain / raw).toFixed(2)), target: ">= 0.8" },
    { measure: `(b) commit→PubAck p50 ms @${RATE}/s (LISTEN)`, value: ms(latency.p50), target: "<= 2" },
    { measure: `(b) commit→PubAck p99 ms @${RATE}/s (LISTEN)`, value: ms(latency.p99), target: "<= 10" },
    { measure: `(b) commit→PubAck max ms @${RATE}/s (LISTEN)`, value: ms(latency.max), target: "" },
    { measure: `(b) floor: publish after commit, p50 ms`, value: ms(floor.p50), target: "" },
    { measure: `(b) floor: publish after commit, p99 ms`, value: ms(floor.p99), target: "" },
    { measure: `(c) raw consume + ack of ${CONSUME / 1000}k, msgs/s`, value: r0(consume.raw), target: "" },
    {
      measure: `(c) consumer runtime over ${CONSUME / 1000}k, msgs/s`,
      value: r0(consume.runtime),
      target: "",
    },
    { measure: "(c) runtime / raw", value: Number((consume.runtime / consume.raw).toFixed(2)), target: "" },
    { measure: "(d) relay drain (poll 100 ms), msgs/s (median)", value: r0(pollDrain), target: "" },
    { measure: "(d) relay / raw (poll 100 ms)", value: Number((pollDrain / raw).toFixed(2)), target: "" },
    { measure: `(d) commit→PubAck p50 ms @${RATE}/s (poll 100 ms)`, value: ms(pollLatency.p50), target: "" },
    { measure: `(d) commit→PubAck p99 ms @${RATE}/s (poll 100 ms)`, value: ms(pollLatency.p99), target: "" },
  ];
  const width = Math.max(...rows.map((r) => r.measure.length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(width)}  ${b.padStart(10)}  ${c}`;
  const table = [line("measure", "value", "target"), line("-".repeat(width), "-".repeat(10), "------")];
  for (const r of rows) table.push(line(r.measure, String(r.value), r.target));
  process.stdout.write(`${table.join("\n")}\n`);

  const pgVersion =
    (await sql<{ v: string }>`SELECT current_setting('server_version') AS v`.execute(db)).rows[0]?.v ??
    "unknown";
  const dir = new URL("../bench-results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    new URL("outbox.json", dir),
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        environment: {
          node: process.version,
          natsServer: serverVersion,
          postgres: pgVersion,
          cpus: cpus().length,
        },
        parameters: {
          backlog: BACKLOG,
          window: WINDOW,
          rate: RATE,
          steadySeconds: STEADY_SECONDS,
          trials: TRIALS,
          consumed: CONSUME,
          messageBytes: template.data.byteLength,
          headerBytes: JSON.stringify(template.headers).length,
        },
        trials,
        results: {
          rawPublishPerSec: raw,
          relayDrainPerSec: drain,
          relayToRaw: drain / raw,
          latencyListen: latency,
          latencyFloor: floor,
          consumerRawPerSec: consume.raw,
          consumerRuntimePerSec: consume.runtime,
          pollingRelayDrainPerSec: pollDrain,
          latencyPolling: pollLatency,
        },
        table: rows,
      },
      null,
      2,
    )}\n`,
  );
}

await main();

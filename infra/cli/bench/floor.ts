/**
 * The floor the order flow is measured against: a chain of five hops on the same NATS and
 * PostgreSQL servers where each hop is only one PostgreSQL commit of a small row, one JetStream
 * publish and one pull-consumer delivery — no outbox, relay, inbox, handler or service host. The
 * driver commits and publishes hop 1; stage k takes hop k's delivery, commits its row and publishes
 * hop k+1; the fifth delivery ends the chain. The flow's latency divided by this one's (same rate,
 * same run) says what Orderflow's machinery costs, independent of how fast this machine is today.
 */
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { dropDatabase, ensureDatabase } from "@orderflow/testing";
import pg from "pg";

export const FLOOR_HOPS = 5;
const STREAM = "FLOOR";

export interface FloorResult {
  readonly rate: number;
  readonly chains: number;
  readonly completed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface Floor {
  /** `seconds` of chains started at `rate` per second, after `warmup` chains; latency start → fifth delivery. */
  run(rate: number, seconds: number, warmup: number): Promise<FloorResult>;
  close(): Promise<void>;
}

export async function startFloor(natsUrl: string, serverUrl: string, suffix: string): Promise<Floor> {
  const dbName = `bench_floor_${suffix}`;
  const pool = new pg.Pool({ connectionString: await ensureDatabase(serverUrl, dbName), max: 8 });
  await pool.query(
    "CREATE TABLE IF NOT EXISTS hop (id bigserial PRIMARY KEY, chain text NOT NULL, stage int NOT NULL)",
  );
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: ["floor.>"] });

  const started = new Map<string, number>();
  const ended = new Map<string, number>();
  const waiters: (() => void)[] = [];
  /** One hop: a commit of a small row, then the publish of the next hop (with a de-duplication id). */
  const hop = async (chain: string, stage: number) => {
    await pool.query("INSERT INTO hop (chain, stage) VALUES ($1, $2)", [chain, stage]);
    await js.publish(`floor.${stage}`, chain, { msgID: `${chain}.${stage}` });
  };

  const stages: ConsumerMessages[] = [];
  for (let stage = 1; stage <= FLOOR_HOPS; stage++) {
    await jsm.consumers.add(STREAM, {
      durable_name: `hop${stage}`,
      filter_subject: `floor.${stage}`,
      ack_policy: AckPolicy.Explicit,
    });
    const messages = await (await js.consumers.get(STREAM, `hop${stage}`)).consume({ max_messages: 256 });
    stages.push(messages);
    const take = async (m: JsMsg) => {
      const chain = m.string();
      if (stage < FLOOR_HOPS) await hop(chain, stage + 1);
      else {
        ended.set(chain, performance.now());
        for (const w of waiters.splice(0)) w();
      }
      m.ack();
    };
    void (async () => {
      for await (const m of messages) void take(m);
    })();
  }

  let n = 0;
  const chain = () => {
    const id = `${suffix}-${n++}`;
    started.set(id, performance.now());
    void hop(id, 1);
    return id;
  };
  const untilEnded = async (ids: string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (ids.some((id) => !ended.has(id)) && Date.now() < deadline) {
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };

  return {
    async run(rate, seconds, warmup) {
      await untilEnded(Array.from({ length: warmup }, chain), 30_000);
      const ids: string[] = [];
      const t0 = performance.now();
      for (let i = 0; i < rate * seconds; i++) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        ids.push(chain());
      }
      await untilEnded(ids, 60_000);
      const latencies = ids.filter((id) => ended.has(id)).map((id) => ended.get(id)! - started.get(id)!);
      return {
        rate,
        chains: ids.length,
        completed: latencies.length,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
      };
    },
    async close() {
      for (const s of stages) await s.close();
      await jsm.streams.delete(STREAM).catch(() => {});
      await nc.close();
      await pool.end();
      await dropDatabase(serverUrl, dbName).catch(() => {});
    },
  };
}

/** The p-th percentile (nearest rank), rounded to 0.01 ms. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 100) / 100;
}

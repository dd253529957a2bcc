/**
 * One chaos run: start the system, drive orders while the nemesis injects faults on a seeded
 * schedule, heal, wait for quiescence, gather what the client was told and what the system holds,
 * and judge it (./checks.ts). `npm run chaos` runs it from the command line (./main.ts); the short
 * seeded variant in `npm test` calls `runChaos` (src/e2e/chaos.e2e.test.ts).
 */
import { DeadLetters, readStream } from "@orderflow/outbox";
import { waitFor } from "@orderflow/testing";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import {
  judge,
  type FinalOrder,
  type History,
  type Stock,
  type StreamEvent,
  type Verdict,
} from "./checks.js";
import { Nemesis, schedule, type FaultDone } from "./nemesis.js";
import { ChaosSystem } from "./system.js";
import { CATALOG, Workload } from "./workload.js";

export interface ChaosOptions {
  readonly seed: number;
  /** How long orders flow and faults happen. */
  readonly seconds: number;
  /** New orders per second. */
  readonly rate: number;
  readonly natsNodes: number;
  readonly instances: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface ChaosResult extends Verdict {
  readonly seed: number;
  readonly options: Omit<ChaosOptions, "log">;
  readonly faults: number;
  readonly faultLog: readonly FaultDone[];
  readonly asked: number;
  readonly retried: number;
  readonly settledSeconds: number;
  readonly summary: string;
}

const SETTLE_TIMEOUT_MS = 120_000;

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => {});
  const rng = xoroshiro128plus(opts.seed);
  log(
    `chaos: seed ${opts.seed}; starting ${opts.natsNodes} NATS node(s), ${opts.instances} instance(s) per service`,
  );
  const sys = await ChaosSystem.start({ natsNodes: opts.natsNodes, instances: opts.instances });
  try {
    await seed(sys);
    const workload = new Workload({ rng, orderUrls: () => sys.urls("order") });
    const nemesis = new Nemesis(sys);
    const faults = schedule(rng, opts.seconds * 1000);
    log(`chaos: ${faults.length} faults scheduled over ${opts.seconds} s at ${opts.rate} orders/s`);

    const t0 = Date.now();
    const ticker = setInterval(() => workload.tick(), 1000 / opts.rate);
    const retrier = setInterval(() => workload.retryPending(), 2000);
    const timers = faults.map((f) =>
      setTimeout(
        () => void nemesis.inject(f).catch((err: Error) => log(`chaos: fault failed: ${err.message}`)),
        f.atMs,
      ),
    );
    await waitFor("the load period", () => Date.now() - t0 >= opts.seconds * 1000, {
      timeoutMs: opts.seconds * 1000 + 5000,
      intervalMs: 200,
    });
    clearInterval(ticker);
    for (const t of timers) clearTimeout(t);

    // Heal: every paused process continues; the runner has restarted (or is restarting) what died.
    const healedAt = Date.now();
    nemesis.heal();
    log(`chaos: healing after ${nemesis.injected} faults; ${workload.unresolved.length} POSTs unanswered`);
    await sys.ready(SETTLE_TIMEOUT_MS);
    const since = () => `${((Date.now() - healedAt) / 1000).toFixed(1)} s`;
    log(`chaos: every instance ready ${since()} after healing`);
    await waitFor(
      "every POST answered",
      async () => {
        await workload.drain();
        if (workload.unresolved.length === 0) return true;
        workload.retryPending();
        return false;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch(() => undefined); // what stays unanswered is judged as lost
    clearInterval(retrier);
    await workload.drain();
    log(`chaos: every POST answered ${since()} after healing`);
    const finalOrders = await settle(
      sys,
      workload,
      () => log(`chaos: every order terminal ${since()} after healing`),
      (on) => log(`chaos: every durable drained ${since()} after healing (last waited on ${on})`),
    );
    const settledSeconds = (Date.now() - healedAt) / 1000;

    const history: History = {
      accepted: [...workload.placed.values()],
      unresolved: workload.unresolved,
      retryMismatches: workload.retryMismatches,
      finalOrders,
      events: await streamEvents(sys),
      stock: { initial: new Map(Object.entries(CATALOG.stock)), final: await stock(sys) },
      balances: { initial: new Map(Object.entries(CATALOG.balances)), final: await balances(sys) },
      deadLetters: await deadLetters(sys),
    };
    const verdict = judge(history);
    const violations = [...verdict.violations, ...workload.refusals.map((r) => `refused: ${r}`)];
    const ok = violations.length === 0;
    const summary =
      `chaos: ${verdict.orders} orders, ${nemesis.injected} faults, lost ${verdict.lost}, doubled ${verdict.doubled}, ` +
      `invariants ${ok ? "ok" : `VIOLATED (${violations.length})`}, settled in ${settledSeconds.toFixed(1)} s`;
    return {
      ...verdict,
      violations,
      seed: opts.seed,
      options: {
        seed: opts.seed,
        seconds: opts.seconds,
        rate: opts.rate,
        natsNodes: opts.natsNodes,
        instances: opts.instances,
      },
      faults: nemesis.injected,
      faultLog: nemesis.done,
      asked: workload.asked,
      retried: workload.retried,
      settledSeconds,
      summary,
    };
  } finally {
    await sys.stop();
  }
}

async function seed(sys: ChaosSystem): Promise<void> {
  const put = async (url: string, body: unknown) => {
    const r = await sys.http("PUT", url, body);
    if (r.status !== 200) throw new Error(`seeding: PUT ${url} answered ${r.status}`);
  };
  const [order] = sys.urls("order");
  const [inventory] = sys.urls("inventory");
  const [billing] = sys.urls("billing");
  for (const [sku, unitPriceCents] of Object.entries(CATALOG.prices))
    await put(`${order}/prices/${sku}`, { unitPriceCents });
  for (const [sku, available] of Object.entries(CATALOG.stock))
    await put(`${inventory}/stock/${sku}`, { available });
  for (const [id, balanceCents] of Object.entries(CATALOG.balances))
    await put(`${billing}/accounts/${id}`, { balanceCents });
}

/**
 * Quiescence: every placed order terminal, every durable consumer with nothing pending or unacked,
 * and the streams' sizes unchanged between two looks. Returns each order as the service answers.
 */
async function settle(
  sys: ChaosSystem,
  workload: Workload,
  terminal: () => void,
  drained: (lastWaitedOn: string) => void,
): Promise<Map<string, FinalOrder>> {
  const [orderUrl] = sys.urls("order");
  const finals = new Map<string, FinalOrder>();
  await waitFor(
    "every placed order terminal",
    async () => {
      for (const o of workload.placed.values()) {
        if (finals.has(o.orderId)) continue;
        const r = await sys
          .http<{ status: string; reason?: string }>("GET", `${orderUrl}/orders/${o.orderId}`)
          .catch(() => undefined);
        if (r?.status === 200 && r.body.status !== "PENDING") finals.set(o.orderId, r.body);
      }
      return finals.size === workload.placed.size;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 500 },
  ).then(terminal, () => undefined);
  let last = "";
  let waitedOn = "nothing";
  await waitFor(
    "consumers drained and streams still",
    async () => {
      const { jsm } = await sys.operator();
      const parts: string[] = [];
      for await (const s of jsm.streams.list()) {
        parts.push(`${s.config.name}:${s.state.last_seq}`);
        for await (const c of jsm.consumers.list(s.config.name))
          if (c.num_pending + c.num_ack_pending > 0) {
            waitedOn = `${c.stream_name}/${c.name} (pending ${c.num_pending}, unacked ${c.num_ack_pending})`;
            return false;
          }
      }
      const now = parts.sort().join(",");
      const still = now === last;
      last = now;
      return still;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 1000 },
  ).then(
    () => drained(waitedOn),
    () => undefined,
  );
  for (const o of workload.placed.values())
    if (!finals.has(o.orderId)) {
      const r = await sys
        .http<{ status: string }>("GET", `${orderUrl}/orders/${o.orderId}`)
        .catch(() => undefined);
      finals.set(o.orderId, { status: r?.status === 200 ? r.body.status : undefined });
    }
  return finals;
}

async function streamEvents(sys: ChaosSystem): Promise<StreamEvent[]> {
  const { js, jsm } = await sys.operator();
  const out: StreamEvent[] = [];
  const streams: string[] = [];
  for await (const s of jsm.streams.list())
    if (!s.config.subjects?.some((x) => x.startsWith("dlq."))) streams.push(s.config.name);
  for (const stream of streams)
    await readStream({ js, jsm, stream, headersOnly: true }, (m) => {
      const type = m.headers?.get("ce-type") ?? "";
      out.push({
        stream,
        id: m.headers?.get("ce-id") ?? `seq-${m.seq}`,
        name: type.replace(/^orderflow\./, "").replace(/\.v\d+$/, ""),
        subject: m.headers?.get("ce-subject") ?? "",
      });
    });
  return out;
}

async function stock(sys: ChaosSystem): Promise<Map<string, Stock>> {
  const [url] = sys.urls("inventory");
  const out = new Map<string, Stock>();
  for (const sku of Object.keys(CATALOG.stock)) {
    const r = await sys.http<Stock>("GET", `${url}/stock/${sku}`);
    if (r.status === 200) out.set(sku, r.body);
  }
  return out;
}

async function balances(sys: ChaosSystem): Promise<Map<string, number>> {
  const [url] = sys.urls("billing");
  const out = new Map<string, number>();
  for (const id of Object.keys(CATALOG.balances)) {
    const r = await sys.http<{ balanceCents: number }>("GET", `${url}/accounts/${id}`);
    if (r.status === 200) out.set(id, r.body.balanceCents);
  }
  return out;
}

async function deadLetters(sys: ChaosSystem) {
  const { js, jsm } = await sys.operator();
  return (await new DeadLetters({ js, jsm }).list()).map((d) => ({
    consumer: d.consumer,
    type: d.type,
    reason: d.reason,
  }));
}

/**
 * What the order-flow benchmarks share: the four services as child processes (N instances of each
 * over fresh databases), their demo data, and a steady-rate driver.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dropDatabase, ensureDatabase, freePort, waitFor } from "@orderflow/testing";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const SERVICES = [
  { name: "order", database: "orders" },
  { name: "inventory", database: "inventory" },
  { name: "billing", database: "billing" },
  { name: "saga", database: "saga" },
] as const;
const TOKEN = randomBytes(32).toString("base64url");

export interface OrderServices {
  /** Every instance's URL per service, instance 1 first. */
  readonly urls: Readonly<Record<string, string[]>>;
  /** The processes, in SERVICES order per instance. */
  readonly children: readonly ChildProcess[];
  /** SIGTERM to every process, wait for them, drop the databases. */
  stop(): Promise<void>;
}

/**
 * Spawns `instances` processes of every service on `natsUrl` / `pgUrl` (databases
 * `bench_<database>_<suffix>`), waits until each is ready and seeds 10 SKUs and 20 customers.
 * `launch(service)` adds node arguments and variables (profiling, tracing).
 */
export async function startOrderServices(opts: {
  readonly natsUrl: string;
  readonly pgUrl: string;
  readonly suffix: string;
  readonly instances?: number;
  readonly launch?: (service: string) => { args: string[]; env: Record<string, string> };
}): Promise<OrderServices> {
  const children: ChildProcess[] = [];
  const urls: Record<string, string[]> = {};
  const stop = async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve())),
    );
    for (const s of SERVICES)
      await dropDatabase(opts.pgUrl, `bench_${s.database}_${opts.suffix}`).catch(() => {});
  };
  try {
    const databases = new Map<string, string>();
    for (const s of SERVICES)
      databases.set(s.name, await ensureDatabase(opts.pgUrl, `bench_${s.database}_${opts.suffix}`));
    for (let i = 0; i < (opts.instances ?? 1); i++)
      for (const s of SERVICES) {
        const port = await freePort();
        const prefix = s.name.toUpperCase();
        const launch = opts.launch?.(s.name) ?? { args: [], env: {} };
        const main = join(root, "services", s.name, "dist/main.js");
        children.push(
          spawn(process.execPath, [...launch.args, main], {
            stdio: ["ignore", "ignore", "inherit", "ipc"],
            env: {
              ...process.env,
              ...launch.env,
              NATS_URL: opts.natsUrl,
              DATABASE_URL: opts.pgUrl,
              [`${prefix}_DATABASE_URL`]: databases.get(s.name)!,
              [`${prefix}_PORT`]: String(port),
              LOG_LEVEL: "warn",
              OPERATOR_TOKEN: TOKEN,
              // One client sends every order: the per-client limit would throttle the benchmark.
              RATE_LIMIT_PER_MINUTE: "off",
            },
          }),
        );
        (urls[s.name] ??= []).push(`http://127.0.0.1:${port}`);
      }
    for (const url of Object.values(urls).flat())
      await waitFor(`${url} ready`, async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, {
        timeoutMs: 60_000,
      });
    const put = (url: string, body: unknown) =>
      fetch(url, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    const [order, inventory, billing] = [urls.order![0]!, urls.inventory![0]!, urls.billing![0]!];
    for (let i = 0; i < 10; i++) await put(`${order}/prices/sku-${i}`, { unitPriceCents: 100 });
    for (let i = 0; i < 10; i++) await put(`${inventory}/stock/sku-${i}`, { available: 1_000_000 });
    for (let i = 0; i < 20; i++) await put(`${billing}/accounts/cust-${i}`, { balanceCents: 1_000_000_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, children, stop };
}

/** Starts `post()` at `rate` a second for `seconds`; resolves with every placed order once all answered. */
export async function atSteadyRate<T>(rate: number, seconds: number, post: () => Promise<T>): Promise<T[]> {
  const placed: T[] = [];
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(post().then((o) => void placed.push(o)));
  }
  await Promise.all(inflight);
  return placed;
}

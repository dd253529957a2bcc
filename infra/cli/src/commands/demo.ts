import { randomUUID } from "node:crypto";
import { waitFor } from "@orderflow/testing";
import { CliError, oneLine } from "../errors.js";
import { request } from "../http.js";
import { checkedUrl, serviceBaseUrl } from "../service-urls.js";
import { loadSystem, type System } from "../system/load-system.js";

export interface DemoOptions {
  /** `<SERVICE>_URL` point at a service; otherwise it is on 127.0.0.1 at its port (see urlsOf). */
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (line: string) => void;
  /** How long each order may take to become CONFIRMED or CANCELLED. */
  readonly timeoutMs?: number;
}

interface Order {
  orderId: string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED";
  reason?: string;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
}

interface Saga {
  state: string;
  history: { at: string; event: string; from: string; to: string }[];
}

interface Scenario {
  readonly title: string;
  readonly expect: Order["status"];
  readonly customerId: string;
  /** No unit prices: the order service takes them from its price list (the config's seed). */
  readonly items: { sku: string; quantity: number }[];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    title: "confirmed",
    expect: "CONFIRMED",
    customerId: "alice",
    items: [{ sku: "sku-apple", quantity: 2 }],
  },
  {
    title: "out of stock",
    expect: "CANCELLED",
    customerId: "bob",
    items: [{ sku: "sku-rare", quantity: 5 }],
  },
  {
    title: "payment declined",
    expect: "CANCELLED",
    customerId: "carol-low",
    items: [{ sku: "sku-pear", quantity: 1 }],
  },
];

/** The order system's services, as this script uses them. */
const SERVICES = ["order", "inventory", "billing", "saga"] as const;
type ServiceName = (typeof SERVICES)[number];

/**
 * The running system's services, each checked ready: at its `<NAME>_URL`, or else at
 * `http://127.0.0.1:<port>` with its port as `orderflow up` gives it (`<NAME>_PORT`, or its
 * definition's default port, from the system's config). Malformed URLs are reported first; the
 * config is loaded only for a service without a URL, and not at all once one is found not running.
 */
async function readyServices(env: NodeJS.ProcessEnv): Promise<Record<ServiceName, string>> {
  const given = new Map<ServiceName, string>();
  for (const name of SERVICES) {
    const variable = `${name.toUpperCase()}_URL`;
    if (env[variable]) given.set(name, checkedUrl(variable, env[variable]));
  }
  let system: Promise<System> | undefined;
  const urls: Partial<Record<ServiceName, string>> = {};
  for (const name of SERVICES) {
    let url = given.get(name);
    if (url === undefined) {
      const { definition } = (await (system ??= loadSystem({ env }))).service(name);
      url = serviceBaseUrl(name, definition.defaultPort, env);
    }
    const ok = await request("GET", `${url}/readyz`, undefined, { timeoutMs: 3000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!ok)
      throw new CliError(
        "NOT_RUNNING",
        `the system is not running: ${name} at ${url} is not ready (start it with \`npm start\`)`,
      );
    urls[name] = url;
  }
  return urls as Record<ServiceName, string>;
}

/**
 * `orderflow demo`: three orders against the running system — one confirmed, one out of stock, one
 * declined — each followed to its end, then its outcome and saga timeline. Resolves with the exit
 * code: 0 when every order ended as expected, 1 otherwise.
 */
export async function demo(opts: DemoOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timeoutMs = opts.timeoutMs ?? 40_000;
  const urls = await readyServices(env);

  out(`orderflow demo: three orders against ${urls.order}`);
  const run = randomUUID();
  const placed = await Promise.all(
    SCENARIOS.map(async (s, i) => {
      const res = await request<{ orderId?: string; error?: string }>(
        "POST",
        `${urls.order}/orders`,
        { customerId: s.customerId, items: s.items },
        { headers: { "idempotency-key": `demo-${run}-${i}` } },
      );
      if (res.status !== 201 || !res.body.orderId) {
        throw new CliError(
          "FAILED",
          `POST /orders for ${s.title} answered ${res.status}: ${JSON.stringify(res.body)}`,
        );
      }
      return res.body.orderId;
    }),
  );

  const outcomes = await Promise.all(
    placed.map(async (orderId) => {
      try {
        const order = await waitFor(
          `order ${orderId} to finish`,
          async () => {
            const r = await request<Order>("GET", `${urls.order}/orders/${orderId}`);
            return r.status === 200 && r.body.status !== "PENDING" ? r.body : undefined;
          },
          { timeoutMs, intervalMs: 100 },
        );
        return { orderId, order };
      } catch (err) {
        return { orderId, order: undefined, error: oneLine(err) };
      }
    }),
  );

  let failures = 0;
  for (const [i, s] of SCENARIOS.entries()) {
    const { orderId, order } = outcomes[i]!;
    // Priced as the order service priced them.
    const items = order
      ? order.items.map((it) => `${it.quantity} × ${it.sku} at ${cents(it.unitPriceCents)}`).join(", ")
      : s.items.map((it) => `${it.quantity} × ${it.sku}`).join(", ");
    out("");
    out(`${i + 1}. ${s.title}: ${s.customerId} orders ${items}`);
    if (!order) {
      failures++;
      out(`   order ${orderId}: still PENDING after ${timeoutMs / 1000} s`);
    } else {
      const ok = order.status === s.expect;
      if (!ok) failures++;
      out(
        `   order ${orderId}: ${order.status}${order.reason ? ` (${order.reason})` : ""}${ok ? "" : `, expected ${s.expect}`}`,
      );
    }
    const saga = await request<Saga>("GET", `${urls.saga}/sagas/${orderId}`).catch(() => undefined);
    if (saga?.status !== 200 || !Array.isArray(saga.body.history)) {
      out(`   saga: ${saga ? `GET /sagas/${orderId} answered ${saga.status}` : "unreachable"}`);
      continue;
    }
    // Offsets from the earliest entry: replies from inventory and billing race, so `at` is not sorted.
    const times = saga.body.history.map((h) => Date.parse(h.at)).filter((t) => !Number.isNaN(t));
    const t0 = Math.min(...times);
    out(`   saga ${saga.body.state}${times.length ? ` (from ${new Date(t0).toISOString()})` : ""}:`);
    for (const h of saga.body.history) {
      const dt = Date.parse(h.at) - t0;
      out(
        `     ${`+${Number.isNaN(dt) ? "?" : dt} ms`.padStart(9)}  ${h.event.padEnd(28)} ${h.from} → ${h.to}`,
      );
    }
  }
  out("");
  out(
    failures
      ? `demo: ${failures} of ${SCENARIOS.length} orders did not end as expected`
      : "demo: every order ended as expected",
  );
  return failures ? 1 : 0;
}

const cents = (n: number) => `${(n / 100).toFixed(2)}`;

/**
 * What the four services log while their PostgreSQL is down (`npx tsx infra/cli/bench/outage-logs.ts`):
 * the order system in this process over a private nats-server and a private PostgreSQL, each service
 * logging at `warn` (as `npm start` runs them) into a counter. `ORDERS_BEFORE` orders (default 20)
 * are placed just before PostgreSQL is stopped for `OUTAGE_SECONDS` (default 60), so that the
 * consumers hold messages they cannot apply, and `ORDER_RATE` orders a second (default 1) are
 * posted during the outage; then PostgreSQL is started again. Prints the bytes and lines logged during the
 * outage (and per minute), the lines that repeat most, and how long a graceful stop takes with
 * PostgreSQL gone (`STOP_OUTAGE=kill`: its postmaster SIGKILLed; `pause`: stalled by SIGSTOP; else stopped), orders in flight. Not a test: a measurement.
 */
import { startService, type RunningService } from "@orderflow/host";
import { definition as billing } from "@orderflow/billing";
import { definition as inventory } from "@orderflow/inventory";
import { definition as order } from "@orderflow/order";
import { definition as saga } from "@orderflow/saga";
import { testNats, testPostgres, waitFor } from "@orderflow/testing";
import { pino } from "pino";

const OUTAGE_S = Number(process.env.OUTAGE_SECONDS ?? 60);
const ORDERS_BEFORE = Number(process.env.ORDERS_BEFORE ?? 20);
const ORDER_RATE = Number(process.env.ORDER_RATE ?? 1);
const TOKEN = "outage-logs-bench-operator-token";
const definitions = [order, inventory, billing, saga] as const;

async function main() {
  await using nats = await testNats();
  await using pgx = await testPostgres();
  const counting = { on: false, bytes: 0, lines: 0, byMsg: new Map<string, number>() };
  const services: RunningService<unknown>[] = [];
  for (const def of definitions) {
    const url = await pgx.database(def.database);
    const svc = await startService(def as Parameters<typeof startService>[0], {
      env: {
        NATS_URL: nats.url,
        [`${def.name.toUpperCase()}_DATABASE_URL`]: url,
        [`${def.name.toUpperCase()}_PORT`]: "0",
        LOG_LEVEL: "warn",
        OPERATOR_TOKEN: TOKEN,
      },
      logger: pino(
        { name: def.name, level: "warn" },
        {
          write(line: string) {
            if (!counting.on) return;
            counting.bytes += Buffer.byteLength(line);
            counting.lines++;
            const msg = `${def.name}: ${(JSON.parse(line) as { msg?: string }).msg}`;
            counting.byMsg.set(msg, (counting.byMsg.get(msg) ?? 0) + 1);
          },
        },
      ),
    });
    services.push(svc as RunningService<unknown>);
  }
  const ready = async () =>
    (await Promise.all(services.map((s) => fetch(`${s.url}/readyz`).then((r) => r.status === 200)))).every(
      Boolean,
    );
  await waitFor("every service ready", ready, { timeoutMs: 30_000 });

  const [orderSvc, inventorySvc, billingSvc] = services as [
    RunningService<unknown>,
    ...RunningService<unknown>[],
  ];
  const send = (url: string, method: string, body: unknown) =>
    fetch(url, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    }).then((r) => r.status);
  await send(`${orderSvc.url}/prices/sku-apple`, "PUT", { unitPriceCents: 150 });
  await send(`${inventorySvc!.url}/stock/sku-apple`, "PUT", { available: 1_000_000 });
  await send(`${billingSvc!.url}/accounts/alice`, "PUT", { balanceCents: 1_000_000_000 });
  const placeOrder = () =>
    send(`${orderSvc.url}/orders`, "POST", {
      customerId: "alice",
      items: [{ sku: "sku-apple", quantity: 1 }],
    });
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  for (let i = 0; i < ORDERS_BEFORE; i++) await placeOrder();
  counting.on = true;
  const started = Date.now();
  await pgx.server.stop();
  while (Date.now() - started < OUTAGE_S * 1000) {
    if (ORDER_RATE > 0) count(await placeOrder().catch(() => 0));
    await new Promise((r) => setTimeout(r, ORDER_RATE > 0 ? 1000 / ORDER_RATE : 1000));
  }
  const outage = { bytes: counting.bytes, lines: counting.lines, seconds: (Date.now() - started) / 1000 };
  const top = [...counting.byMsg].sort((a, b) => b[1] - a[1]).slice(0, 10);
  await pgx.server.restart();
  await waitFor("every service ready again", ready, { timeoutMs: 30_000 });
  const afterRecovery = { bytes: counting.bytes - outage.bytes, lines: counting.lines - outage.lines };

  // A graceful stop with the database gone (`STOP_OUTAGE=kill`: SIGKILLed; else stopped), orders in flight.
  for (let i = 0; i < ORDERS_BEFORE; i++) await placeOrder();
  if (process.env.STOP_OUTAGE === "kill") await pgx.server.kill();
  else if (process.env.STOP_OUTAGE === "pause") pgx.server.pause();
  else await pgx.server.stop();
  await new Promise((r) => setTimeout(r, 2000));
  const stopStarted = Date.now();
  const stopSeconds = Object.fromEntries(
    await Promise.all(
      services.map(async (s, i) => {
        // Before the fix a stop with PostgreSQL stalled never returned: give up after a minute.
        const stopped = await Promise.race([
          s.stop().then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), 60_000).unref()),
        ]);
        return [
          definitions[i]!.name,
          stopped ? (Date.now() - stopStarted) / 1000 : "not within 60 s",
        ] as const;
      }),
    ),
  );
  if (process.env.STOP_OUTAGE === "pause") pgx.server.resume();

  console.log(
    JSON.stringify(
      {
        outageSeconds: outage.seconds,
        bytes: outage.bytes,
        lines: outage.lines,
        bytesPerMinute: Math.round((outage.bytes / outage.seconds) * 60),
        linesPerMinute: Math.round((outage.lines / outage.seconds) * 60),
        recovery: afterRecovery,
        top,
        ordersDuringOutage: Object.fromEntries(statuses),
        stopSecondsWithDatabaseDown: stopSeconds,
      },
      null,
      2,
    ),
  );
}

await main();

import type { OpsOverview } from "../ops-api.js";
import { DeadLettersPanel } from "./dead-letters-panel.js";
import { clock } from "./format.js";
import { ConsumersPanel, OutboxPanel } from "./health-panels.js";
import { OperatorForm, useOperator } from "./operator.js";
import { OrdersPanel } from "./orders-panel.js";
import { useOverview } from "./use-overview.js";

const POLL_MS = 1000;

export function App() {
  const { overview, receivedAt, error, refresh } = useOverview(POLL_MS);
  const operator = useOperator();
  return (
    <>
      <header>
        <h1>
          Orderflow <span>ops</span>
        </h1>
        <p class={`live ${error ? "down" : "up"}`} role="status">
          {error
            ? `not updating: ${error}${receivedAt ? ` (last at ${clock(new Date(receivedAt).toISOString())})` : ""}`
            : receivedAt
              ? `live · updated ${clock(new Date(receivedAt).toISOString())}`
              : "connecting…"}
        </p>
        <OperatorForm operator={operator} />
      </header>
      {overview && (
        <main>
          <Summary overview={overview} />
          {overview.errors.length > 0 && (
            <ul class="problems">
              {overview.errors.map((e) => (
                <li key={e}>{e}</li>
              ))}
            </ul>
          )}
          {overview.orders && <OrdersPanel orders={overview.orders} />}
          <div class="grid">
            <ConsumersPanel consumers={overview.consumers} />
            <OutboxPanel outbox={overview.outbox} />
          </div>
          <DeadLettersPanel
            letters={overview.deadLetters.letters}
            total={overview.deadLetters.total}
            token={operator.token}
            changed={refresh}
          />
        </main>
      )}
    </>
  );
}

function Summary({ overview }: { overview: OpsOverview }) {
  const count = (status: string) => overview.orders?.filter((o) => o.status === status).length ?? 0;
  const lag = overview.consumers.reduce((n, c) => n + c.lag, 0);
  const backlog = overview.outbox.reduce((n, o) => n + ("backlog" in o ? o.backlog : 0), 0);
  const tiles = [
    ...(overview.orders
      ? [
          {
            label: "recent orders",
            value: overview.orders.length,
            detail: `${count("CONFIRMED")} confirmed · ${count("CANCELLED")} cancelled · ${count("PENDING")} pending`,
            warn: false,
          },
        ]
      : []),
    {
      label: "consumer lag",
      value: lag,
      detail: `over ${overview.consumers.length} durables`,
      warn: lag > 0,
    },
    {
      label: "outbox backlog",
      value: backlog,
      detail: `over ${overview.outbox.length} services`,
      warn: backlog > 0,
    },
    {
      label: "dead letters",
      value: overview.deadLetters.total,
      detail: "in the DLQ stream",
      warn: overview.deadLetters.total > 0,
    },
  ];
  return (
    <div class="tiles">
      {tiles.map((t) => (
        <div key={t.label} class={`tile${t.warn ? " warn" : ""}`}>
          <div class="value">{t.value}</div>
          <div class="label">{t.label}</div>
          <div class="detail">{t.detail}</div>
        </div>
      ))}
    </div>
  );
}

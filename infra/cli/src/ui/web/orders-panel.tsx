import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { RecentOrder } from "../ops-api.js";
import { clock, duration, money, shortId } from "./format.js";
import { SagaTimeline, Steps } from "./saga-timeline.js";

/** From the order's creation to its saga's last transition, once the order ended. */
const took = (o: RecentOrder): string => {
  const at = o.saga?.history.map((h) => Date.parse(h.at)) ?? [];
  return at.length && o.status !== "PENDING" ? duration(Math.max(...at) - Date.parse(o.createdAt)) : "";
};

/** The newest orders with their sagas; a row opens its saga's timeline. */
export function OrdersPanel({ orders }: { orders: readonly RecentOrder[] }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((was) => {
      const next = new Set(was);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <section class="card orders">
      <h2>
        Recent orders <span class="muted">from the orders stream · click one for its saga</span>
      </h2>
      {orders.length === 0 ? (
        <p class="empty">no orders yet</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>placed</th>
              <th>order</th>
              <th>customer</th>
              <th>items</th>
              <th class="num">total</th>
              <th>order</th>
              <th>saga</th>
              <th>steps</th>
              <th class="num">took</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((o) => (
              <Fragment key={o.orderId}>
                <tr
                  class={`order-row${open.has(o.orderId) ? " open" : ""}`}
                  data-order-id={o.orderId}
                  data-status={o.status}
                  data-saga={o.saga?.state ?? ""}
                  onClick={() => toggle(o.orderId)}
                >
                  <td class="muted">{clock(o.createdAt)}</td>
                  <td class="mono" title={o.orderId}>
                    <span class="caret">{open.has(o.orderId) ? "▾" : "▸"}</span> {shortId(o.orderId)}
                  </td>
                  <td>{o.customerId}</td>
                  <td>{o.items.map((i) => `${i.quantity} × ${i.sku}`).join(", ")}</td>
                  <td class="num">{money(o.totalCents, o.currency)}</td>
                  <td>
                    <span class={`badge ${o.status.toLowerCase()}`} title={o.reason}>
                      {o.status}
                    </span>
                  </td>
                  <td>
                    {o.saga ? <span class={`badge ${o.saga.state.toLowerCase()}`}>{o.saga.state}</span> : "—"}
                  </td>
                  <td>{o.saga && <Steps steps={o.saga.steps} />}</td>
                  <td class="num muted">{took(o)}</td>
                </tr>
                {open.has(o.orderId) && (
                  <tr class="timeline-row">
                    <td colSpan={9}>
                      {o.saga ? (
                        <SagaTimeline orderId={o.orderId} placedAt={o.createdAt} saga={o.saga} />
                      ) : (
                        <p class="empty">the saga has not seen this order yet</p>
                      )}
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

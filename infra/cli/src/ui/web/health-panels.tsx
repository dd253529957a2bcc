import type { ConsumerRow, OutboxRow } from "../ops-api.js";
import { duration } from "./format.js";

/** Each durable consumer's lag: what it has not finished (pending + ack-pending). */
export function ConsumersPanel({ consumers }: { consumers: readonly ConsumerRow[] }) {
  return (
    <section class="card consumers">
      <h2>
        Consumer lag <span class="muted">per durable</span>
      </h2>
      <table>
        <thead>
          <tr>
            <th>stream</th>
            <th>durable</th>
            <th class="num">pending</th>
            <th class="num">ack pending</th>
            <th class="num">redelivered</th>
            <th class="num">lag</th>
          </tr>
        </thead>
        <tbody>
          {consumers.map((c) => (
            <tr key={`${c.stream}/${c.consumer}`} data-durable={`${c.stream}/${c.consumer}`}>
              <td>{c.stream}</td>
              <td class="mono">{c.consumer}</td>
              <td class="num">{c.pending}</td>
              <td class="num">{c.ackPending}</td>
              <td class="num">{c.redelivered}</td>
              <td class={`num lag${c.lag > 0 ? " warn" : ""}`}>{c.lag}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {consumers.length === 0 && <p class="empty">no durable consumers</p>}
    </section>
  );
}

/** Each service's outbox: rows committed but not yet published, and how old the oldest is. */
export function OutboxPanel({ outbox }: { outbox: readonly OutboxRow[] }) {
  return (
    <section class="card outbox">
      <h2>
        Outbox backlog <span class="muted">per service</span>
      </h2>
      <table>
        <thead>
          <tr>
            <th>service</th>
            <th class="num">unpublished</th>
            <th class="num">oldest</th>
            <th class="num">retained</th>
          </tr>
        </thead>
        <tbody>
          {outbox.map((o) =>
            "error" in o ? (
              <tr key={o.service} data-service={o.service}>
                <td>{o.service}</td>
                <td colSpan={3} class="error-text">
                  {o.error}
                </td>
              </tr>
            ) : (
              <tr key={o.service} data-service={o.service}>
                <td>{o.service}</td>
                <td class={`num${o.backlog > 0 ? " warn" : ""}`}>{o.backlog}</td>
                <td class="num muted">
                  {o.oldestUnpublishedMs === null ? "—" : duration(o.oldestUnpublishedMs)}
                </td>
                <td class="num muted">{o.retained}</td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </section>
  );
}

import type { SagaTimeline as Saga } from "../ops-api.js";
import { duration } from "./format.js";

/** What the saga sends to undo a step, and the replies that it was undone. */
const COMPENSATE = /\.(release|refund)\.requested$/;
const COMPENSATED = /^(inventory\.released|payment\.refunded)$/;
const FAILURE = /\.(rejected|declined)$|^deadline$/;
const SUCCESS = /\.(reserved|charged|confirmed)$/;

type Entry = Saga["history"][number];

function tone(h: Entry): "compensated" | "failure" | "success" | "neutral" {
  if (COMPENSATED.test(h.event)) return "compensated";
  if (FAILURE.test(h.event)) return "failure";
  if (SUCCESS.test(h.event) || h.to === "CONFIRMED") return "success";
  return "neutral";
}

function tag(h: Entry): string | undefined {
  if (h.sent.some((c) => COMPENSATE.test(c))) return "compensation requested";
  return COMPENSATED.test(h.event) ? "compensated" : undefined;
}

/** The steps as chips: `inventory RESERVED`, `payment REFUNDED`. */
export function Steps({ steps }: { steps: Readonly<Record<string, string>> }) {
  return (
    <span class="steps">
      {Object.entries(steps).map(([step, state]) => (
        <span key={step} class={`step step-${state.toLowerCase()}`}>
          {step} <b>{state}</b>
        </span>
      ))}
    </span>
  );
}

/**
 * Every transition of one saga with its time since the order was placed (`placedAt`, the time of
 * `order.created`), what it sent, and its compensations marked.
 */
export function SagaTimeline({ orderId, placedAt, saga }: { orderId: string; placedAt: string; saga: Saga }) {
  const t0 = Date.parse(placedAt);
  return (
    <div class="timeline" data-timeline={orderId}>
      <div class="timeline-head">
        saga <b>{saga.state}</b>
        {saga.reason && <span class="reason"> — {saga.reason}</span>}
        <span class="muted">
          {" "}
          · {saga.history.length} transitions, times since the order was placed · order {orderId}
        </span>
      </div>
      <ol>
        {saga.history.map((h, i) => {
          const marked = tag(h);
          return (
            <li key={i} class={`entry ${tone(h)}`}>
              <span class="offset">+{duration(Date.parse(h.at) - t0)}</span>
              <span class="dot" />
              <span class="event">{h.event}</span>
              <span class="transition">{h.from === h.to ? h.to : `${h.from} → ${h.to}`}</span>
              <Steps steps={h.steps} />
              {h.sent.length > 0 && <span class="sent">sent {h.sent.join(", ")}</span>}
              {marked && <span class="tag">{marked}</span>}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

import type { PubAck } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { describeError } from "../errors.js";
import { carriedContext, messaging, tracer } from "../trace.js";

/**
 * The relay's send span of one row, a child of the event's create span (the context its
 * `traceparent` names), from dispatch to PubAck. CLIENT, as the messaging semantic conventions have a
 * send span that is not the message's creation context. Nothing is recorded when the event's trace
 * is not sampled or no SDK is registered.
 */
export function traceSend(
  row: { readonly event_id: string; readonly traceparent: string | null },
  subject: string,
  sent: Promise<PubAck>,
): void {
  if (!row.traceparent) return;
  const span = tracer().startSpan(
    `send ${subject}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        ...messaging("send", "publish"),
        "messaging.destination.name": subject,
        "messaging.message.id": row.event_id,
      },
    },
    carriedContext({ traceparent: row.traceparent }),
  );
  if (!span.isRecording()) return;
  sent.then(
    (ack) => {
      span.setAttribute("messaging.nats.stream", ack.stream);
      if (ack.duplicate) span.setAttribute("messaging.nats.duplicate", true);
      span.end();
    },
    (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
      span.end();
    },
  );
}

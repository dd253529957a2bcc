import { context, ROOT_CONTEXT, SpanKind, trace, type Span } from "@opentelemetry/api";
import type { AnyCloudEvent as CloudEvent } from "@orderflow/events";
import { parseTraceparent, tracer } from "../trace.js";

/** A process span for one message, child of the trace the event carries. */
export function startProcessSpan(event: CloudEvent, consumer: string): Span {
  const parent = parseTraceparent(event.traceparent);
  return tracer().startSpan(
    `process ${event.name}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.message.id": event.id,
        "orderflow.consumer": consumer,
      },
    },
    parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : context.active(),
  );
}

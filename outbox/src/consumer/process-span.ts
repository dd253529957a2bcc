import type { JsMsg } from "@nats-io/jetstream";
import { SpanKind, type Span } from "@opentelemetry/api";
import type { AnyCloudEvent as CloudEvent } from "@orderflow/events";
import { carriedContext, messaging, tracer } from "../trace.js";

/**
 * The process span of one message in consumer `consumer` (its durable: the consumer group), a
 * child of the event's create span, which its `traceparent` names: every hop of a flow is one trace.
 */
export function startProcessSpan(m: JsMsg, event: CloudEvent, consumer: string): Span {
  return tracer().startSpan(
    `process ${m.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...messaging("process", "process"),
        "messaging.destination.name": m.subject,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": event.id,
        "messaging.message.conversation_id": event.correlationId,
        "messaging.message.body.size": m.data.length,
        "messaging.nats.delivery_count": m.info.deliveryCount,
      },
    },
    carriedContext(event),
  );
}

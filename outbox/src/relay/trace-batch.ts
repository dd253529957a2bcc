import type { PubAck } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode, type Link } from "@opentelemetry/api";
import { describeError } from "../errors.js";
import { parseTraceparent, tracer } from "../trace.js";

/** One producer span per batch sent, linked to the trace of each event in it; ends when all settled. */
export function traceBatch(rows: readonly { traceparent: string | null }[], sent: Promise<PubAck>[]): void {
  const links: Link[] = [];
  for (const r of rows) {
    const sc = parseTraceparent(r.traceparent ?? undefined);
    if (sc) links.push({ context: sc });
  }
  const span = tracer().startSpan("outbox publish", {
    kind: SpanKind.PRODUCER,
    links,
    attributes: { "messaging.system": "nats", "messaging.batch.message_count": sent.length },
  });
  if (!span.isRecording()) return span.end();
  void Promise.allSettled(sent).then((results) => {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(failed.reason) });
    span.end();
  });
}

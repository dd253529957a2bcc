import { randomBytes } from "node:crypto";
import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";

export const tracer = (): Tracer => trace.getTracer("@orderflow/outbox");

/**
 * The messaging semantic conventions' attributes every span of ours carries (OpenTelemetry
 * messaging spans, semconv 1.27+): the system, and the operation's type and name.
 */
export const messaging = (type: "create" | "send" | "process", name: string) => ({
  "messaging.system": "nats",
  "messaging.operation.type": type,
  "messaging.operation.name": name,
});

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** What an event carries of its trace: its own headers, or the trace it continues. */
export interface CarriedTrace {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** Random hex of `bytes` bytes, never all zeros (W3C forbids a zero trace id or parent id). */
function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomBytes(bytes).toString("hex");
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** The span context a traceparent (and tracestate) names, as a remote parent; undefined when invalid. */
export function remoteSpanContext(carried: CarriedTrace | undefined): SpanContext | undefined {
  const sc = parseTraceparent(carried?.traceparent);
  if (!sc || !carried?.tracestate) return sc;
  try {
    return { ...sc, traceState: createTraceState(carried.tracestate) };
  } catch {
    return sc; // a malformed tracestate is dropped, the trace goes on
  }
}

/** A context whose parent is the span a carried traceparent names (the root context when none). */
export function carriedContext(carried: CarriedTrace | undefined): Context {
  const sc = remoteSpanContext(carried);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/**
 * The parent of an event's create span: the cause's trace continues, under the active span when
 * that span belongs to it (a consumer's process span), else under the cause's own span; with no
 * usable cause, the active span (an HTTP request's), else none (a new trace).
 */
function createParent(cause: CarriedTrace | undefined): Context {
  const remote = remoteSpanContext(cause);
  const active = context.active();
  if (!remote) return active;
  return trace.getSpanContext(active)?.traceId === remote.traceId
    ? active
    : trace.setSpanContext(ROOT_CONTEXT, remote);
}

/**
 * The trace context of an event enqueued now, from its "create" span (messaging semantic
 * conventions: the span that gives a message its creation context; the relay's send span and every
 * consumer's process span are its children). So every event has a valid `traceparent`:
 * - with an OpenTelemetry SDK, the create span's, under the parent `createParent` picks, or a new
 *   root the sampler decides on (sampled by default);
 * - without one nothing records: the parent's traceparent travels unchanged (W3C lets a participant
 *   that does not trace forward it; a fresh parent id would name a span no backend ever receives),
 *   which also keeps the headers of a re-run handler the same as the first run's; with no parent, a
 *   new root with flags 00 (not sampled: nothing records it) and no tracestate (W3C drops it
 *   whenever a trace restarts).
 */
export function createTraceContext(
  event: { readonly id: string; readonly subject: string; readonly correlationId: string },
  cause?: CarriedTrace,
): TraceContext {
  const parent = createParent(cause);
  const span = tracer().startSpan(
    `create ${event.subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        ...messaging("create", "create"),
        "messaging.destination.name": event.subject,
        "messaging.message.id": event.id,
        "messaging.message.conversation_id": event.correlationId,
      },
    },
    parent,
  );
  span.end();
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return { traceparent: `00-${nonZeroHex(16)}-${nonZeroHex(8)}-00` };
  const flags = sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00";
  // A span built from a traceparent alone has no tracestate; the cause's is the trace's.
  const tracestate =
    sc.traceState?.serialize() ??
    (cause?.tracestate && parseTraceparent(cause.traceparent)?.traceId === sc.traceId
      ? cause.tracestate
      : undefined);
  return { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`, ...(tracestate ? { tracestate } : {}) };
}

export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  const m = value ? TRACEPARENT.exec(value) : null;
  if (!m) return undefined;
  const sc: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true };
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/** Trace id for log lines: from the traceparent header, else undefined. */
export const traceIdOf = (traceparent: string | undefined): string | undefined =>
  parseTraceparent(traceparent)?.traceId;

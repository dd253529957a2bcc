import { randomBytes } from "node:crypto";
import { trace, TraceFlags, type SpanContext, type Tracer } from "@opentelemetry/api";

export const tracer = (): Tracer => trace.getTracer("@orderflow/outbox");

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** W3C trace context of the active span, for an event enqueued now; undefined when none is active. */
export function activeTraceContext(): TraceContext | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  const flags = (sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00") as string;
  const tracestate = sc.traceState?.serialize();
  return { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`, ...(tracestate ? { tracestate } : {}) };
}

/** Random hex of `bytes` bytes, never all zeros (W3C forbids a zero trace id or parent id). */
function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomBytes(bytes).toString("hex");
    if (!/^0+$/.test(hex)) return hex;
  }
}

/**
 * The trace context an event enqueued now carries, so every event has a valid `traceparent`:
 * - a cause with a valid traceparent: its trace continues. Under the active span when that span
 *   belongs to the same trace (an OpenTelemetry SDK is registered and the consumer's process span
 *   is current); otherwise the cause's traceparent and tracestate travel unchanged.
 * - no usable cause: the active span when there is a valid one, else a new trace.
 */
export function outgoingTraceContext(cause?: {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}): TraceContext {
  const active = activeTraceContext();
  const parent = parseTraceparent(cause?.traceparent);
  if (parent && cause?.traceparent) {
    if (active && traceIdOf(active.traceparent) === parent.traceId) {
      // The consumer's span is built from the traceparent alone; the cause's tracestate is the trace's.
      const tracestate = active.tracestate ?? cause.tracestate;
      return { traceparent: active.traceparent, ...(tracestate ? { tracestate } : {}) };
    }
    // Nothing here records a span, so there is no span of ours to name as the parent. W3C lets a
    // participant that does not trace forward traceparent unchanged (same trace id, parent id and
    // flags: the sampling decision is the trace's). A fresh parent id would name a span no
    // backend ever receives, leaving the next consumer's span an orphan under a missing parent;
    // the cause's keeps the tree connected to the last span that was recorded. It also keeps the
    // headers of a re-run handler the same as the first run's.
    return { traceparent: cause.traceparent, ...(cause.tracestate ? { tracestate: cause.tracestate } : {}) };
  }
  if (active) return active;
  // A new root: flags 00 (not sampled) because nothing records this span. No tracestate: W3C
  // drops it whenever a trace restarts, and a cause without a valid traceparent has none to keep.
  return { traceparent: `00-${nonZeroHex(16)}-${nonZeroHex(8)}-00` };
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

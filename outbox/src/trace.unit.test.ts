import { catalog } from "@orderflow/contracts";
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from "@opentelemetry/api";
import { decode, type CloudEvent } from "@orderflow/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutbox, type OutboxRow } from "./index.js";
import { parseTraceparent } from "./trace.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const outbox = createOutbox({ catalog, source: "/orderflow/test" });
const created = {
  orderId: "o-1",
  customerId: "c-1",
  items: [{ sku: "s", quantity: 1, unitPriceCents: 100 }],
  totalCents: 100,
  currency: "USD",
};
const confirmed = { orderId: "o-1", customerId: "c-1", totalCents: 100 };

/** The row as a consumer decodes it off the wire, with `headers` overriding what was encoded. */
function received(row: OutboxRow, headers: Record<string, string | undefined> = {}): CloudEvent {
  const all: Record<string, string | undefined> = { ...row.headers, ...headers };
  const r = decode({ subject: row.subject, headers: { get: (k) => all[k] }, data: row.payload });
  if (!r.ok) throw r.error;
  return r.event;
}

const traceIdOf = (row: OutboxRow): string | undefined => parseTraceparent(row.headers.traceparent)?.traceId;

describe("trace context without an OpenTelemetry SDK", () => {
  it("starts a new, valid, unsampled trace for an event enqueued with no active span and no cause", () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    const a = outbox.prepare("order.created", created);
    const b = outbox.prepare("order.created", created);
    for (const row of [a, b]) {
      expect(row.headers.traceparent).toMatch(TRACEPARENT);
      expect(row.headers.traceparent).toMatch(/-00$/);
      expect(parseTraceparent(row.headers.traceparent)).toBeDefined(); // non-zero ids
      expect(row.headers.tracestate).toBeUndefined();
    }
    expect(traceIdOf(a)).not.toBe(traceIdOf(b));
    expect(parseTraceparent(a.headers.traceparent)?.spanId).not.toBe(
      parseTraceparent(b.headers.traceparent)?.spanId,
    );
  });

  it("continues the cause's trace in an event it causes, tracestate included", () => {
    const root = outbox.prepare("order.created", created);
    const child = outbox.prepare("order.confirmed", confirmed, { causation: received(root) });
    expect(traceIdOf(child)).toBe(traceIdOf(root));
    expect(child.headers["ce-causationid"]).toBe(root.id);

    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const cause = received(root, { traceparent, tracestate: "congo=t61rcWkgMzE" });
    const next = outbox.prepare("order.confirmed", confirmed, { causation: cause });
    // Forwarded unchanged: nothing here records a span to name as the parent instead.
    expect(next.headers.traceparent).toBe(traceparent);
    expect(next.headers.tracestate).toBe("congo=t61rcWkgMzE");
  });

  it("starts a new trace, dropping tracestate, when the cause has no valid traceparent", () => {
    const root = outbox.prepare("order.created", created);
    for (const traceparent of [undefined, "00-abc-def-01", `00-${"0".repeat(32)}-b7ad6b7169203331-01`]) {
      const cause = received(root, { traceparent, tracestate: "congo=t61rcWkgMzE" });
      const child = outbox.prepare("order.confirmed", confirmed, { causation: cause });
      expect(child.headers.traceparent).toMatch(TRACEPARENT);
      expect(parseTraceparent(child.headers.traceparent)).toBeDefined();
      expect(traceIdOf(child)).not.toBe(traceIdOf(root));
      expect(child.headers.tracestate).toBeUndefined();
    }
  });
});

/** Synchronous stand-in for the SDK's context manager: enough for `context.with` around `prepare`. */
class StackContextManager implements ContextManager {
  #stack: Context[] = [];
  active(): Context {
    return this.#stack.at(-1) ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.#stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#stack = [];
    return this;
  }
}

describe("trace context with an active OpenTelemetry span", () => {
  beforeAll(() => void context.setGlobalContextManager(new StackContextManager()));
  afterAll(() => context.disable());

  const span = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 };
  const inSpan = <T>(fn: () => T): T =>
    context.with(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(span)), fn);

  it("uses the active span for an event with no cause", () => {
    const row = inSpan(() => outbox.prepare("order.created", created));
    expect(row.headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
  });

  it("names the active span as parent when it belongs to the cause's trace, keeping the cause's tracestate", () => {
    const root = outbox.prepare("order.created", created);
    const cause = received(root, {
      traceparent: `00-${span.traceId}-b7ad6b7169203331-01`,
      tracestate: "congo=t61rcWkgMzE",
    });
    const row = inSpan(() => outbox.prepare("order.confirmed", confirmed, { causation: cause }));
    expect(row.headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
    expect(row.headers.tracestate).toBe("congo=t61rcWkgMzE");
  });

  it("continues the cause's trace over an active span of another trace", () => {
    const root = outbox.prepare("order.created", created);
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    const row = inSpan(() =>
      outbox.prepare("order.confirmed", confirmed, { causation: received(root, { traceparent }) }),
    );
    expect(row.headers.traceparent).toBe(traceparent);
  });

  it("ignores an invalid active span", () => {
    const row = context.with(
      trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...span, traceId: "0".repeat(32) })),
      () => outbox.prepare("order.created", created),
    );
    expect(row.headers.traceparent).toMatch(TRACEPARENT);
    expect(traceIdOf(row)).not.toBe("0".repeat(32));
    expect(row.headers.traceparent).toMatch(/-00$/);
  });
});

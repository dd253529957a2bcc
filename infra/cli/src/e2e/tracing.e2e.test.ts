import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  dropDatabase,
  ensureDatabase,
  freePort,
  otlpReceiver,
  testNats,
  testPostgresServer,
  waitFor,
  type OtlpReceiver,
  type ReceivedSpan,
} from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../http.js";
import {
  assertBuilt,
  cleanEnv,
  CliProcess,
  killAll,
  readProcessTree,
  REPO_ROOT,
} from "../../test/up-process.js";

// `orderflow up` (the four services as processes, its own nats-server and PostgreSQL) with the
// standard OTEL_* variables pointing at an OTLP/HTTP receiver in this process: one order is one
// trace across the four services.

const SERVICES = ["order", "inventory", "billing", "saga"] as const;
const otelEnv = (url: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: url,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  // Export within 200 ms instead of 5 s: the test waits on spans arriving, not on a clock.
  OTEL_BSP_SCHEDULE_DELAY: "200",
});

/** The spans of the trace that created order `orderId` (found by its create span), once `done` holds. */
async function traceOf(
  otlp: OtlpReceiver,
  orderId: string,
  done: (spans: ReceivedSpan[]) => boolean,
): Promise<ReceivedSpan[]> {
  return waitFor(
    `the trace of order ${orderId}`,
    () => {
      const create = otlp.spans.find(
        (s) =>
          s.name === "create orders.order.created" &&
          s.attributes["messaging.message.conversation_id"] === orderId,
      );
      const spans = create ? otlp.trace(create.traceId) : [];
      return spans.length && done(spans) ? spans : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

const one = (spans: ReceivedSpan[], what: string, pick: (s: ReceivedSpan) => boolean): ReceivedSpan => {
  const found = spans.filter(pick);
  expect(found, what).toHaveLength(1);
  return found[0]!;
};
const processed = (spans: ReceivedSpan[], subject: string, service: string) =>
  spans.some((s) => s.kind === "CONSUMER" && s.name === `process ${subject}` && s.service === service);

describe("traces exported over OTLP under `orderflow up`", () => {
  let tmp: string;
  let otlp: OtlpReceiver;
  let proc: CliProcess;
  const ports: Record<string, number> = {};
  const url = (s: string) => `http://127.0.0.1:${ports[s]}`;
  const pids = new Set<number>();

  beforeAll(async () => {
    assertBuilt();
    tmp = mkdtempSync(join(tmpdir(), "orderflow-tracing-"));
    chmodSync(tmp, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
    otlp = await otlpReceiver();
    for (const s of SERVICES) ports[s] = await freePort();
    const env = cleanEnv({
      ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_PORT`, String(ports[s])])),
      ...otelEnv(otlp.url),
      OTEL_SERVICE_NAME: "one-name-for-all", // the runner names each service itself
      LOG_LEVEL: "info",
    });
    proc = new CliProcess(["up", "--data-dir", join(tmp, "data")], env);
    pids.add(proc.pid);
    await proc.line(/^orderflow: ready in [\d.]+ s/, 60_000);
    for (const pid of readProcessTree(join(tmp, "data")).values()) pids.add(pid);
  }, 90_000);

  afterAll(async () => {
    if (proc && proc.child.exitCode === null) {
      proc.child.kill("SIGTERM");
      await waitFor("runner exit", () => proc.child.exitCode !== null, { timeoutMs: 20_000 }).catch(() =>
        killAll(pids),
      );
    }
    await otlp?.close();
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it("exports one trace per order: HTTP, outbox create, relay send, each consumer down to order.confirmed", async () => {
    const placed = await request<{ orderId: string }>("POST", `${url("order")}/orders`, {
      customerId: "alice",
      items: [{ sku: "sku-apple", quantity: 2 }],
    });
    expect(placed.status).toBe(201);
    const { orderId } = placed.body;
    const spans = await traceOf(otlp, orderId, (t) => processed(t, "orders.order.confirmed", "saga"));

    // Every service took part, each under its own name, and the tree is connected under one root.
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(SERVICES));
    const ids = new Set(spans.map((s) => s.spanId));
    const root = one(spans, "one root", (s) => !s.parentSpanId);
    expect(spans.filter((s) => s !== root && !ids.has(s.parentSpanId!))).toEqual([]);
    // The HTTP request: a server span named after its route, sampled with no traceparent sent.
    expect(root).toMatchObject({ service: "order", kind: "SERVER", name: "POST /orders" });
    expect(root.attributes).toMatchObject({ "http.route": "/orders", "http.response.status_code": 201 });
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId!)!;

    // Database spans under the request and under each consumer's handling; none outside a trace.
    const db = spans.filter((s) => s.attributes["db.system.name"] === "postgresql");
    expect(db.every((s) => s.kind === "CLIENT" && /^pg\.query:[A-Z]+ /.test(s.name))).toBe(true);
    expect(db.some((s) => s.parentSpanId === root.spanId && s.name.startsWith("pg.query:WITH"))).toBe(true);
    expect(new Set(db.map((s) => parentOf(s).kind))).toEqual(new Set(["SERVER", "CONSUMER"]));

    // Each event: a create span (PRODUCER) where it was enqueued, one send span (the relay's
    // publish) and a process span per consumer (its durable as the consumer group), both its children.
    const creates = spans.filter((s) => s.kind === "PRODUCER");
    for (const create of creates) {
      const subject = create.attributes["messaging.destination.name"];
      const messageId = create.attributes["messaging.message.id"];
      expect(create.name).toBe(`create ${subject}`);
      expect(create.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.operation.type": "create",
        "messaging.message.conversation_id": orderId,
      });
      const children = spans.filter((s) => s.parentSpanId === create.spanId);
      const send = one(children, `the send span of ${subject}`, (s) => s.kind === "CLIENT");
      expect(send).toMatchObject({ service: create.service, name: `send ${subject}`, status: 0 });
      expect(send.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.operation.type": "send",
        "messaging.destination.name": subject,
        "messaging.message.id": messageId,
      });
      for (const p of children.filter((s) => s.kind === "CONSUMER")) {
        expect(p.name).toBe(`process ${subject}`);
        expect(p.attributes).toMatchObject({
          "messaging.system": "nats",
          "messaging.operation.type": "process",
          "messaging.destination.name": subject,
          "messaging.message.id": messageId,
          "messaging.consumer.group.name": p.service,
        });
      }
    }
    // The flow, hop by hop: who created what, and under whose handling of which event.
    const created = (subject: string) =>
      one(creates, `create ${subject}`, (s) => s.attributes["messaging.destination.name"] === subject);
    expect(parentOf(created("orders.order.created"))).toBe(root);
    for (const service of ["inventory", "billing", "saga"])
      expect(processed(spans, "orders.order.created", service), service).toBe(true);
    expect(parentOf(created("inventory.reservation.reserved"))).toMatchObject({
      service: "inventory",
      name: "process orders.order.created",
    });
    expect(parentOf(created("billing.payment.charged"))).toMatchObject({
      service: "billing",
      name: "process orders.order.created",
    });
    expect(created("saga.order.approve")).toMatchObject({ service: "saga" });
    expect(parentOf(created("orders.order.confirmed"))).toMatchObject({
      service: "order",
      name: "process saga.order.approve",
    });
    expect(processed(spans, "saga.order.approve", "inventory")).toBe(true);

    // Log lines carry the trace: the order service's line for the confirmation names its process span.
    const confirmedLine = proc.stdout
      .filter((l) => l.includes('"msg":"order confirmed"') && l.includes(orderId))
      .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string });
    expect(confirmedLine).toHaveLength(1);
    expect(confirmedLine[0]!.trace_id).toBe(root.traceId);
    expect(byId.get(confirmedLine[0]!.span_id!)).toMatchObject({ name: "process saga.order.approve" });
  }, 60_000);

  it("continues a caller's trace, through a failed payment's compensation down to order.cancelled", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const placed = await request<{ orderId: string }>(
      "POST",
      `${url("order")}/orders`,
      { customerId: "carol-low", items: [{ sku: "sku-pear", quantity: 1 }] },
      { headers: { traceparent: `00-${traceId}-${parentId}-01` } },
    );
    expect(placed.status).toBe(201);
    const spans = await traceOf(otlp, placed.body.orderId, (t) =>
      processed(t, "orders.order.cancelled", "saga"),
    );
    expect(spans[0]!.traceId).toBe(traceId);
    const server = one(spans, "the HTTP span", (s) => s.kind === "SERVER");
    expect(server.parentSpanId).toBe(parentId);
    // Declined, so the saga released the reservation inventory made, then cancelled the order.
    expect(processed(spans, "billing.payment.declined", "saga")).toBe(true);
    const release = one(spans, "the release", (s) => s.kind === "CONSUMER" && s.name.endsWith(".release"));
    expect(release.service).toBe("inventory");
    expect(spans.some((s) => s.name === "create inventory.reservation.released")).toBe(true);
    expect(spans.some((s) => s.name === "create orders.order.cancelled" && s.service === "order")).toBe(true);
  }, 60_000);
});

describe("a service started with `node --import @orderflow/host/tracing`, exporting http/protobuf", () => {
  it("exports its HTTP and database spans of a caller's trace as OTLP protobuf, and flushes them on SIGTERM", async () => {
    await using otlp = await otlpReceiver();
    await using nats = await testNats();
    const server = (await testPostgresServer()).url;
    const database = `tracing_stock_${process.pid}`;
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ["--import", "@orderflow/host/tracing", join(REPO_ROOT, "services/inventory/dist/main.js")],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          ...cleanEnv(),
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          NATS_URL: nats.url,
          INVENTORY_DATABASE_URL: await ensureDatabase(server, database),
          INVENTORY_PORT: String(port),
          OPERATOR_TOKEN: "tracing-test-operator-token",
        },
      },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        `inventory ready (stderr: ${stderr})`,
        async () => (await request("GET", `${base}/readyz`).catch(() => undefined))?.status === 200,
        { timeoutMs: 30_000 },
      );
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const put = await request(
        "PUT",
        `${base}/stock/sku-traced`,
        { available: 3 },
        {
          headers: {
            authorization: "Bearer tracing-test-operator-token",
            traceparent: `00-${traceId}-b7ad6b7169203331-01`,
          },
        },
      );
      expect(put.status).toBe(200);
      // The default 5 s batch delay has not passed: the stop's flush is what exports the spans.
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const traces = otlp.requests.filter((r) => r.path === "/v1/traces");
      expect(traces.length).toBeGreaterThan(0);
      expect(traces.every((r) => r.contentType === "application/x-protobuf")).toBe(true);
      const body = Buffer.concat(traces.map((r) => r.body));
      // Protobuf carries ids as raw bytes, names and attribute values as strings.
      expect(body.includes(Buffer.from(traceId, "hex"))).toBe(true);
      for (const text of ["PUT /stock/:sku", "pg.query:", "postgresql", "inventory"])
        expect(body.includes(Buffer.from(text)), text).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      await dropDatabase(server, database);
    }
  }, 60_000);
});

import { describe, expect, it } from "vitest";
import { headerSource, incoming, meta, orderCreatedV1, samples } from "../test/samples.js";
import {
  DecodeErrorCode,
  DEFAULT_MAX_BYTES,
  EventsError,
  Header,
  isDecodeError,
  type DecodeError,
  type DecodeResult,
  type IncomingMessage,
} from "@orderflow/events";
import { decode, encode, encodeVersion } from "./index.js";

const created = encode("order.created", samples["order.created"], meta());

function failure(result: DecodeResult): DecodeError {
  if (result.ok) throw new Error(`expected a DecodeError, decoded ${result.event.name}`);
  expect(isDecodeError(result.error)).toBe(true);
  expect(result.error.name).toBe("DecodeError");
  return result.error;
}

describe("encode", () => {
  it("writes CloudEvents binary mode headers and the data as JSON", () => {
    expect(created.subject).toBe("orders.order.created");
    expect(created.headers).toEqual({
      "ce-specversion": "1.0",
      "ce-id": "01900000-0000-7000-8000-000000000001",
      "ce-source": "/orderflow/order",
      "ce-type": "orderflow.order.created.v3",
      "ce-subject": "ord-1",
      "ce-time": "2025-01-02T03:04:05.678Z",
      "ce-datacontenttype": "application/json",
      "ce-correlationid": "ord-1",
      "ce-causationid": "01900000-0000-7000-8000-000000000000",
      "Nats-Msg-Id": "01900000-0000-7000-8000-000000000001",
    });
    expect(JSON.parse(new TextDecoder().decode(created.data))).toEqual(samples["order.created"]);
  });

  it("percent-encodes attribute values but passes W3C trace headers through", () => {
    const e = encode(
      "order.cancelled",
      { ...samples["order.cancelled"], orderId: "ord 1/ü%" },
      meta({
        correlationId: 'saga "1"',
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "v=a%20b",
      }),
    );
    expect(e.headers[Header.Subject]).toBe("ord%201/%C3%BC%25");
    expect(e.headers[Header.CorrelationId]).toBe("saga%20%221%22");
    expect(e.headers[Header.TraceState]).toBe("v=a%20b");
    const r = decode(incoming(e));
    expect(r.ok && [r.event.subject, r.event.correlationId, r.event.tracestate]).toEqual([
      "ord 1/ü%",
      'saga "1"',
      "v=a%20b",
    ]);
  });

  it.each([
    ["data of the wrong shape", "order.confirmed", { orderId: "o" }, {}],
    ["an id that is not a UUID", "order.confirmed", samples["order.confirmed"], { id: "evt-1" }],
    [
      "an upper-case UUID (ids key the inbox, so they must be canonical)",
      "order.confirmed",
      samples["order.confirmed"],
      { id: "01900000-0000-7000-8000-00000000000A" },
    ],
    ["an invalid date", "order.confirmed", samples["order.confirmed"], { time: new Date(Number.NaN) }],
    [
      "a year past 9999",
      "order.confirmed",
      samples["order.confirmed"],
      { time: new Date("+010000-01-01T00:00:00Z") },
    ],
    ["an empty correlation id", "order.confirmed", samples["order.confirmed"], { correlationId: "" }],
    ["an empty source", "order.confirmed", samples["order.confirmed"], { source: "" }],
    [
      "a lone surrogate in the correlation id",
      "order.confirmed",
      samples["order.confirmed"],
      { correlationId: "a\uD800" },
    ],
    [
      "a lone surrogate in the key",
      "order.confirmed",
      { ...samples["order.confirmed"], orderId: "\uDC00" },
      {},
    ],
    [
      "a traceparent with a line break",
      "order.confirmed",
      samples["order.confirmed"],
      { traceparent: "00-1\r\nX: y" },
    ],
  ] as const)("rejects %s with EventsError INVALID_EVENT", (_, name, data, overrides) => {
    const attempt = () => encode(name, data as (typeof samples)[typeof name], meta(overrides));
    expect(attempt).toThrow(EventsError);
    expect(attempt).toThrow(expect.objectContaining({ code: "INVALID_EVENT" }) as Error);
  });

  it("encodes past versions and refuses versions the catalog does not have", () => {
    const v1 = encodeVersion("order.created", 1, orderCreatedV1, meta());
    expect(v1.headers[Header.Type]).toBe("orderflow.order.created.v1");
    expect(() => encodeVersion("order.created", 4, samples["order.created"], meta())).toThrow(/no version 4/);
    expect(() => encodeVersion("order.created", 1, samples["order.created"], meta({ id: "x" }))).toThrow(
      EventsError,
    );
  });
});

describe("decode", () => {
  it("decodes a valid message (the baseline every bad case below departs from)", () => {
    const r = decode(incoming(created));
    expect(r).toEqual({
      ok: true,
      event: {
        name: "order.created",
        data: samples["order.created"],
        id: meta().id,
        source: "/orderflow/order",
        subject: "ord-1",
        time: "2025-01-02T03:04:05.678Z",
        version: 3,
        correlationId: "ord-1",
        causationId: meta().causationId,
      },
    });
  });

  it("accepts a namespace prefix on the subject", () => {
    expect(decode(incoming(created, { subject: "test_1.orders.order.created" })).ok).toBe(true);
  });

  describe("MALFORMED_JSON", () => {
    it.each([
      ["truncated JSON", '{"orderId":'],
      ["not JSON at all", "order created"],
      ["empty body", ""],
      ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d])],
    ])("%s", (_, data) => {
      expect(failure(decode(incoming(created, { data }))).code).toBe(DecodeErrorCode.MalformedJson);
    });
  });

  describe("MISSING_HEADER", () => {
    it.each([
      Header.SpecVersion,
      Header.Id,
      Header.Source,
      Header.Type,
      Header.Subject,
      Header.Time,
      Header.DataContentType,
      Header.CorrelationId,
    ])("%s", (name) => {
      const error = failure(decode(incoming(created, { headers: { [name]: undefined } })));
      expect(error.code).toBe(DecodeErrorCode.MissingHeader);
      expect(error.message).toContain(name);
      const empty = failure(decode(incoming(created, { headers: { [name]: "" } })));
      expect(empty.code).toBe(DecodeErrorCode.MissingHeader);
    });

    it("no headers at all", () => {
      const msg: IncomingMessage = { subject: created.subject, headers: undefined, data: created.data };
      expect(failure(decode(msg)).code).toBe(DecodeErrorCode.MissingHeader);
    });

    it("optional headers may be absent", () => {
      const r = decode(
        incoming(created, { headers: { [Header.CausationId]: undefined, [Header.MsgId]: undefined } }),
      );
      expect(r.ok && r.event.causationId).toBeUndefined();
    });
  });

  describe("INVALID_HEADER", () => {
    it.each([
      ["ce-source: stray %", { [Header.Source]: "/orderflow/%zz" }, "ce-source"],
      ["ce-subject: truncated UTF-8 sequence", { [Header.Subject]: "ord-%E2%82" }, "ce-subject"],
      ["ce-correlationid: lone %", { [Header.CorrelationId]: "%" }, "ce-correlationid"],
      ["ce-causationid: overlong encoding", { [Header.CausationId]: "%C0%80" }, "ce-causationid"],
      ["ce-id: not a UUID", { [Header.Id]: "evt-1" }, "ce-id"],
      ["ce-id: upper case", { [Header.Id]: "01900000-0000-7000-8000-00000000000A" }, "ce-id"],
      ["ce-time: not a timestamp", { [Header.Time]: "yesterday" }, "ce-time"],
      ["ce-time: no such day", { [Header.Time]: "2025-02-29T00:00:00Z" }, "ce-time"],
      ["ce-time: hour 24", { [Header.Time]: "2025-01-01T24:00:00Z" }, "ce-time"],
      ["ce-time: no zone", { [Header.Time]: "2025-01-01T00:00:00" }, "ce-time"],
      ["ce-specversion: 0.3", { [Header.SpecVersion]: "0.3" }, "ce-specversion"],
      ["ce-datacontenttype: text/plain", { [Header.DataContentType]: "text/plain" }, "ce-datacontenttype"],
      ["ce-subject differs from the data key", { [Header.Subject]: "ord-2" }, "data.orderId"],
    ])("%s", (_, headers, mentioned) => {
      const error = failure(decode(incoming(created, { headers })));
      expect(error.code).toBe(DecodeErrorCode.InvalidHeader);
      expect(error.message).toContain(mentioned);
    });

    it("accepts a leap day and a time with an offset", () => {
      expect(
        decode(incoming(created, { headers: { [Header.Time]: "2024-02-29T23:59:59.5+01:30" } })).ok,
      ).toBe(true);
    });
  });

  describe("UNKNOWN_TYPE", () => {
    it.each(["orderflow.order.shipped.v1", "com.example.order.created", "orderflow.order.created"])(
      "%s",
      (type) => {
        const error = failure(decode(incoming(created, { headers: { [Header.Type]: type } })));
        expect(error.code).toBe(DecodeErrorCode.UnknownType);
        expect(error.message).toContain(type);
      },
    );
  });

  describe("UNSUPPORTED_VERSION", () => {
    it.each(["orderflow.order.created.v4", "orderflow.order.created.v0", "orderflow.order.confirmed.v2"])(
      "%s",
      (type) => {
        const error = failure(decode(incoming(created, { headers: { [Header.Type]: type } })));
        expect(error.code).toBe(DecodeErrorCode.UnsupportedVersion);
      },
    );
  });

  describe("PAYLOAD_TOO_LARGE", () => {
    it("over the default limit", () => {
      const data = new Uint8Array(DEFAULT_MAX_BYTES + 1).fill(0x20);
      expect(failure(decode(incoming(created, { data }))).code).toBe(DecodeErrorCode.PayloadTooLarge);
    });

    it("over a configured limit, and not at it", () => {
      const size = created.data.byteLength;
      expect(failure(decode(incoming(created), { maxBytes: size - 1 })).code).toBe(
        DecodeErrorCode.PayloadTooLarge,
      );
      expect(decode(incoming(created), { maxBytes: size }).ok).toBe(true);
    });
  });

  describe("SCHEMA_VIOLATION", () => {
    const body = (data: unknown) => JSON.stringify(data);

    it("names the path of every failing field", () => {
      const { currency: _, ...noCurrency } = samples["order.created"];
      const data = body({ ...noCurrency, items: [{ sku: "sku-1", quantity: 0, unitPriceCents: 1 }] });
      const error = failure(decode(incoming(created, { data })));
      expect(error.code).toBe(DecodeErrorCode.SchemaViolation);
      expect(error.issues.map((i) => i.path).sort()).toEqual(["currency", "items.0.quantity"]);
      expect(error.message).toContain("items.0.quantity");
    });

    it("reports a bad root value", () => {
      const error = failure(decode(incoming(created, { data: "[]" })));
      expect(error.code).toBe(DecodeErrorCode.SchemaViolation);
      expect(error.issues).toEqual([{ path: "", message: expect.any(String) as string }]);
    });

    it("refuses a NUL or a lone surrogate in any string, naming the field", () => {
      const s = samples["order.created"];
      const data = body({
        ...s,
        customerId: "x\u0000y",
        items: [{ ...s.items[0], sku: "\ud800" }],
      });
      const error = failure(decode(incoming(created, { data })));
      expect(error.code).toBe(DecodeErrorCode.SchemaViolation);
      expect(error.issues.map((i) => i.path)).toEqual(["customerId", "items.0.sku"]);
      expect(() =>
        encode("order.confirmed", { ...samples["order.confirmed"], customerId: "\udc00" }, meta()),
      ).toThrow(/customerId/);
      // A surrogate pair is well-formed text.
      expect(
        encode("order.confirmed", { ...samples["order.confirmed"], customerId: "\u{1F600}" }, meta()),
      ).toBeDefined();
    });

    it("validates a past version against its own schema before upcasting", () => {
      const v1 = encodeVersion("order.created", 1, orderCreatedV1, meta({ correlationId: "ord-0" }));
      const error = failure(decode(incoming(v1, { data: body({ ...orderCreatedV1, totalCents: -1 }) })));
      expect(error.code).toBe(DecodeErrorCode.SchemaViolation);
      expect(error.message).toContain("order.created.v1");
      expect(error.issues.map((i) => i.path)).toEqual(["totalCents"]);
    });
  });

  describe("SUBJECT_MISMATCH", () => {
    it.each(["orders.order.confirmed", "billing.payment.charged", "xorders.order.created", "created"])(
      "%s",
      (subject) => {
        expect(failure(decode(incoming(created, { subject }))).code).toBe(DecodeErrorCode.SubjectMismatch);
      },
    );
  });

  it("W3C trace headers are returned undecoded", () => {
    const headers = {
      ...created.headers,
      [Header.TraceParent]: "00-abc-def-01",
      [Header.TraceState]: "k=%41",
    };
    const r = decode({ subject: created.subject, headers: headerSource(headers), data: created.data });
    expect(r.ok && [r.event.traceparent, r.event.tracestate]).toEqual(["00-abc-def-01", "k=%41"]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arbitraryFor, metaArb, text } from "../test/arbitraries.js";
import { headerSource, incoming, meta, samples } from "../test/samples.js";
import {
  decodeHeaderValue,
  DecodeError,
  DecodeErrorCode,
  encodeHeaderValue,
  Header,
  jsonSchemas,
  type DecodeResult,
  type EventDefinition,
  type IncomingMessage,
} from "@orderflow/events";
import {
  catalog,
  decode,
  encode,
  encodeVersion,
  eventNames,
  type EventData,
  type EventName,
} from "./index.js";

const schemas = jsonSchemas(catalog);
const dataArb = (ceType: string) => arbitraryFor(schemas[ceType]!);
const codes = new Set<string>(Object.values(DecodeErrorCode));

/** Never throws; a failure is a DecodeError with a known code; a success is valid, current-version data. */
function decodeSafely(msg: IncomingMessage): DecodeResult {
  const r = decode(msg);
  if (r.ok) {
    const def: EventDefinition = catalog.events[r.event.name];
    expect(def.schema.safeParse(r.event.data).success).toBe(true);
    expect(String((r.event.data as Record<string, unknown>)[def.key])).toBe(r.event.subject);
  } else {
    expect(r.error).toBeInstanceOf(DecodeError);
    expect(codes.has(r.error.code)).toBe(true);
  }
  return r;
}

describe("decode(encode(e)) = e", () => {
  it.each(eventNames)("%s, arbitrary data and meta", (name) => {
    const def: EventDefinition = catalog.events[name];
    fc.assert(
      fc.property(dataArb(catalog.ceType(name, def.version)), metaArb, (data, m) => {
        const r = decode(incoming(encode(name, data as EventData<EventName>, m)));
        expect(r).toEqual({
          ok: true,
          event: {
            name,
            data,
            id: m.id,
            source: m.source,
            subject: String((data as Record<string, unknown>)[def.key]),
            time: m.time.toISOString(),
            version: def.version,
            correlationId: m.correlationId,
            causationId: m.causationId,
            traceparent: m.traceparent,
            tracestate: m.tracestate,
          },
        });
      }),
    );
  });

  it("order.created v1 round-trips as v2 data with currency USD", () => {
    fc.assert(
      fc.property(dataArb("orderflow.order.created.v1"), metaArb, (data, m) => {
        const r = decode(incoming(encodeVersion("order.created", 1, data, m)));
        expect(r.ok && r.event.version).toBe(1);
        expect(r.ok && r.event.data).toEqual({ ...(data as object), currency: "USD" });
      }),
    );
  });

  it("header values: decodeHeaderValue(encodeHeaderValue(s)) = s, and the encoding is printable ASCII", () => {
    fc.assert(
      fc.property(text(0, 200), (s) => {
        const encoded = encodeHeaderValue(s);
        expect(encoded).toMatch(/^[\x21-\x7e]*$/);
        expect(decodeHeaderValue(encoded)).toBe(s);
      }),
    );
  });
});

describe("decode never throws", () => {
  const valid = encode("order.created", samples["order.created"], meta());
  const headerNames = [...Object.values(Header), "content-type", "ce-dataschema"];
  const headerValue = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "binary-ascii" }),
    fc.constantFrom(
      "",
      "%",
      "%zz",
      "%C0%80",
      "%E2%82%AC",
      "1.0",
      "application/json",
      "orderflow.order.created.v2",
    ),
    fc.constantFrom(...Object.values(valid.headers)),
    fc.constantFrom(...eventNames.flatMap((n) => [0, 1, 2, 3].map((v) => catalog.ceType(n, v)))),
    fc.uuid(),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  );
  const subject = fc.oneof(
    fc.constant(valid.subject),
    fc.string(),
    fc.constantFrom(...catalog.names.map((n) => catalog.subject(n))),
  );

  it("on random bytes as the body", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (data) => {
        const r = decodeSafely(incoming(valid, { data }));
        expect(r.ok).toBe(false);
      }),
    );
  });

  it("on random JSON as the body", () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        decodeSafely(incoming(valid, { data: json }));
      }),
    );
  });

  it("on random header maps, subjects and bodies", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.constantFrom(...headerNames), fc.string()), headerValue),
        subject,
        fc.oneof(fc.constant(valid.data), fc.uint8Array({ maxLength: 64 })),
        (headers, s, data) => {
          decodeSafely({ subject: s, headers: headerSource(headers), data });
        },
      ),
    );
  });

  it("on a valid message with headers replaced or removed at random", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...headerNames), fc.option(headerValue, { nil: undefined })),
        (changes) => {
          const r = decodeSafely(incoming(valid, { headers: changes }));
          if (!r.ok) return;
          // A message that still decodes is read from the headers it now has.
          const h = { ...valid.headers, ...changes };
          const causation = h[Header.CausationId];
          expect(r.event).toMatchObject({
            id: h[Header.Id],
            source: decodeHeaderValue(h[Header.Source]!),
            subject: decodeHeaderValue(h[Header.Subject]!),
            time: h[Header.Time],
            correlationId: decodeHeaderValue(h[Header.CorrelationId]!),
            causationId: causation ? decodeHeaderValue(causation) : undefined,
          });
          expect(catalog.ceType(r.event.name as EventName, r.event.version)).toBe(h[Header.Type]);
        },
      ),
    );
  });
});

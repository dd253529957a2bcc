import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { CloudEvent as SdkCloudEvent, HTTP } from "cloudevents";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { arbitraryFor, metaArb } from "../test/arbitraries.js";
import { meta, orderCreatedV1, orderCreatedV2, samples } from "../test/samples.js";
import { contractsDir } from "../scripts/schema-files.js";
import {
  decodeHeaderValue,
  Header,
  jsonSchemas,
  schemaId,
  type AsyncApiDocument,
  type EncodedEvent,
  type JsonSchema,
} from "@orderflow/events";
import { catalog, encode, encodeVersion, eventNames, type EventData, type EventName } from "./index.js";

// Validates against the committed files, the artifacts other languages consume.
const ajv = new Ajv2020({
  strict: true,
  allErrors: true,
  // ajv-formats is not a dependency; these two are all the documents use.
  formats: {
    uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    "date-time": (s: string) => !Number.isNaN(Date.parse(s)),
  },
});
for (const file of readdirSync(join(contractsDir, "schemas"))) {
  ajv.addSchema(JSON.parse(readFileSync(join(contractsDir, "schemas", file), "utf8")) as JsonSchema);
}
const asyncApi = parse(readFileSync(join(contractsDir, "asyncapi.yaml"), "utf8")) as AsyncApiDocument;
const validateHeaders = ajv.compile(asyncApi.components.schemas.CloudEventHeaders!);

function schemaFor(ceType: string): ValidateFunction {
  const validate = ajv.getSchema(schemaId(ceType));
  if (!validate) throw new Error(`no exported schema for ${ceType}`);
  return validate;
}

const body = (e: EncodedEvent): unknown => JSON.parse(new TextDecoder().decode(e.data));

function expectConforming(e: EncodedEvent): void {
  const ceType = e.headers[Header.Type]!;
  const validate = schemaFor(ceType);
  expect(validate(body(e)), ajv.errorsText(validate.errors)).toBe(true);
  expect(validateHeaders(e.headers), ajv.errorsText(validateHeaders.errors)).toBe(true);
  const message = asyncApi.components.messages[ceType];
  expect(message?.headers.allOf?.[1]?.properties?.[Header.Type]).toEqual({ type: "string", const: ceType });
}

describe("exported JSON Schemas and AsyncAPI headers (ajv)", () => {
  it.each(eventNames)("accept the encoded sample of %s", (name) => {
    expectConforming(encode(name, samples[name], meta()));
  });

  it("accept a past version against its own schema only", () => {
    const v1 = encodeVersion("order.created", 1, orderCreatedV1, meta());
    expectConforming(v1);
    expect(schemaFor("orderflow.order.created.v2")(body(v1))).toBe(false);
    const v2 = encodeVersion("order.created", 2, orderCreatedV2, meta());
    expectConforming(v2);
    // v3 only adds an optional field: a v2 body is a valid v3 body, not the other way round.
    expect(schemaFor("orderflow.order.created.v3")(orderCreatedV2)).toBe(true);
    expect(schemaFor("orderflow.order.created.v2")(samples["order.created"])).toBe(false);
  });

  it("reject data encode would refuse", () => {
    const validate = schemaFor("orderflow.order.created.v3");
    const good = samples["order.created"];
    expect(validate(good)).toBe(true);
    for (const bad of [
      { ...good, currency: "usd" },
      { ...good, items: [] },
      { ...good, totalCents: 1.5 },
      { ...good, extra: true },
      { ...good, orderId: "" },
      { ...good, idempotency: { key: "", requestHash: good.idempotency!.requestHash } },
      { ...good, idempotency: { key: "k", requestHash: "not-a-sha256" } },
    ]) {
      expect(validate(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(
      validateHeaders({
        ...encode("order.confirmed", samples["order.confirmed"], meta()).headers,
        "ce-id": "x",
      }),
    ).toBe(false);
  });

  it("accept whatever encode accepts (every event, arbitrary data and meta)", () => {
    const schemas = jsonSchemas(catalog);
    for (const name of eventNames) {
      const data = arbitraryFor(schemas[catalog.ceType(name, catalog.events[name].version)]!);
      fc.assert(
        fc.property(data, metaArb, (d, m) => expectConforming(encode(name, d as EventData<EventName>, m))),
        { numRuns: 30 },
      );
    }
  });
});

/** The NATS binding has the HTTP binding's shape; HTTP carries the content type in Content-Type. */
function toSdkEvent(e: EncodedEvent): SdkCloudEvent<unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(e.headers)) {
    if (name === Header.DataContentType) headers["content-type"] = value;
    else if (name.startsWith("ce-")) headers[name] = value;
  }
  const event = HTTP.toEvent<unknown>({ headers, body: new TextDecoder().decode(e.data) });
  if (!(event instanceof SdkCloudEvent)) throw new Error("expected one CloudEvent");
  return event;
}

describe("CloudEvents SDK (HTTP binary binding)", () => {
  it.each(eventNames)("parses %s with every attribute and extension", (name) => {
    const m = meta({ id: "01900000-0000-7000-8000-0000000000c1", correlationId: "saga-7" });
    const ce = toSdkEvent(encode(name, samples[name], m));
    expect(ce.validate()).toBe(true);
    expect(ce).toMatchObject({
      specversion: "1.0",
      id: m.id,
      type: `orderflow.${name}.v${catalog.events[name].version}`,
      source: "/orderflow/order",
      subject: String((samples[name] as Record<string, unknown>)[catalog.events[name].key]),
      time: "2025-01-02T03:04:05.678Z",
      datacontenttype: "application/json",
      data: samples[name],
      correlationid: "saga-7",
      causationid: m.causationId,
    });
  });

  it("sees percent-encoded values, which decode to the originals", () => {
    const data = { ...samples["order.confirmed"], orderId: "ord ü/1" };
    const ce = toSdkEvent(encode("order.confirmed", data, meta({ correlationId: "sága 7" })));
    expect(ce.validate()).toBe(true);
    expect(decodeHeaderValue(ce.subject ?? "")).toBe("ord ü/1");
    expect(decodeHeaderValue(String(ce.correlationid))).toBe("sága 7");
    expect(ce.data).toEqual(data);
  });
});

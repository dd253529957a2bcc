import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ASYNCAPI_FILE,
  asyncApiOptions,
  contractsDir,
  SCHEMAS_DIR,
  schemaFiles,
} from "../scripts/schema-files.js";
import { asyncApiDocument, Header, jsonSchemas, schemaId, schemaPath } from "@orderflow/events";
import { catalog } from "./index.js";

const definitions = Object.values(catalog.events);
const allCeTypes = definitions.flatMap((d) =>
  [...d.past.map((p) => p.version), d.version].map((v) => catalog.ceType(d.name, v)),
);

/** Follows a local JSON pointer (`#/a/b`) in the document, and the references it lands on. */
function resolve(doc: unknown, ref: string): unknown {
  expect(ref).toMatch(/^#\//);
  const target = ref
    .slice(2)
    .split("/")
    .map((key) => key.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
  const next = (target as { $ref?: unknown } | undefined)?.$ref;
  return typeof next === "string" && next.startsWith("#/") ? resolve(doc, next) : target;
}

describe("committed contract files", () => {
  it("match the catalog (run npm run schemas)", () => {
    for (const file of schemaFiles()) {
      const path = join(contractsDir, file.path);
      expect(existsSync(path), `${file.path} is missing: run npm run schemas`).toBe(true);
      expect(readFileSync(path, "utf8"), `${file.path} is stale: run npm run schemas`).toBe(file.content);
    }
    const expected = schemaFiles()
      .map((f) => f.path)
      .filter((p) => p.startsWith(`${SCHEMAS_DIR}/`));
    const present = readdirSync(join(contractsDir, SCHEMAS_DIR)).map((n) => `${SCHEMAS_DIR}/${n}`);
    expect(present.sort(), "schemas/ holds files of no current version: run npm run schemas").toEqual(
      expected.sort(),
    );
  });

  it("are generated deterministically", () => {
    expect(schemaFiles()).toEqual(schemaFiles());
  });
});

describe("jsonSchemas", () => {
  const schemas = jsonSchemas(catalog);

  it("has one draft 2020-12 schema per event type and supported version", () => {
    expect(Object.keys(schemas)).toEqual(allCeTypes);
    expect(Object.keys(schemas)).toContain("orderflow.order.created.v1");
    for (const [ceType, schema] of Object.entries(schemas)) {
      expect(schema).toMatchObject({
        $schema: "https://json-schema.org/draft/2020-12/schema",
        $id: schemaId(ceType),
        title: expect.stringMatching(/ v\d+$/) as string,
        type: "object",
        additionalProperties: false,
      });
    }
  });

  it("tells the versions apart", () => {
    expect(schemas["orderflow.order.created.v2"]?.required).toContain("currency");
    expect(schemas["orderflow.order.created.v1"]?.required).not.toContain("currency");
    expect(schemas["orderflow.order.created.v3"]?.properties).toHaveProperty("idempotency");
    expect(schemas["orderflow.order.created.v3"]?.required).not.toContain("idempotency");
  });
});

describe("asyncApiDocument", () => {
  const doc = asyncApiDocument(catalog, { ...asyncApiOptions, version: "9.9.9" });

  it("is AsyncAPI 3.0.0 with one channel per event at its NATS subject", () => {
    expect(doc.asyncapi).toBe("3.0.0");
    expect(doc.info.version).toBe("9.9.9");
    expect(Object.keys(doc.channels)).toEqual(catalog.names);
    for (const def of definitions) {
      expect(doc.channels[def.name]?.address).toBe(catalog.subject(def.name));
    }
    expect(Object.keys(doc.channels["order.created"]?.messages ?? {})).toEqual([
      "orderflow.order.created.v1",
      "orderflow.order.created.v2",
      "orderflow.order.created.v3",
    ]);
  });

  it("has a send operation per event for its current version", () => {
    expect(Object.keys(doc.operations)).toEqual(definitions.map((d) => `send.${d.name}`));
    for (const def of definitions) {
      const op = doc.operations[`send.${def.name}`];
      expect(op?.action).toBe("send");
      expect(resolve(doc, op?.channel.$ref ?? "")).toBe(doc.channels[def.name]);
      expect(op?.messages.map((m) => (resolve(doc, m.$ref) as { name: string }).name)).toEqual([
        catalog.ceType(def.name, def.version),
      ]);
    }
  });

  it("describes every message: JSON content, CloudEvents headers, payload schema file", () => {
    const files = new Map(schemaFiles().map((f) => [f.path, f.content]));
    expect(Object.keys(doc.components.messages)).toEqual(allCeTypes);
    for (const [id, message] of Object.entries(doc.components.messages)) {
      expect(message).toMatchObject({ name: id, contentType: "application/json" });
      const payload = files.get(message.payload.$ref.replace(/^\.\//, ""));
      expect(payload, `${message.payload.$ref} is not generated`).toBeDefined();
      expect((JSON.parse(payload ?? "{}") as { $id: string }).$id).toBe(schemaId(id));
      expect(message.payload.$ref).toBe(`./${schemaPath(id)}`);
      const [base, own] = message.headers.allOf ?? [];
      expect(resolve(doc, base?.$ref ?? "")).toBe(doc.components.schemas.CloudEventHeaders);
      expect(own?.properties?.[Header.Type]).toEqual({ type: "string", const: id });
    }
    expect(doc.components.messages["orderflow.order.created.v1"]?.deprecated).toBe(true);
    expect(doc.components.messages["orderflow.order.created.v2"]?.deprecated).toBe(true);
    expect(doc.components.messages["orderflow.order.created.v3"]?.deprecated).toBeUndefined();
    expect(doc.components.schemas.CloudEventHeaders?.required).toEqual([
      "ce-specversion",
      "ce-id",
      "ce-source",
      "ce-type",
      "ce-subject",
      "ce-time",
      "ce-datacontenttype",
      "ce-correlationid",
      "Nats-Msg-Id",
    ]);
  });

  it("is what asyncapi.yaml holds", () => {
    const onDisk = parse(readFileSync(join(contractsDir, ASYNCAPI_FILE), "utf8")) as unknown;
    expect(onDisk).toEqual(
      asyncApiDocument(catalog, { ...asyncApiOptions, version: (onDisk as typeof doc).info.version }),
    );
  });
});

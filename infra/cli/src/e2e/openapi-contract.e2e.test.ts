import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { definition as billing } from "@orderflow/billing";
import { definition as inventory } from "@orderflow/inventory";
import { definition as order } from "@orderflow/order";
import { definition as saga } from "@orderflow/saga";
import { waitFor } from "@orderflow/testing";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { OpenAPIV3_1 as O } from "openapi-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENAPI_DIR } from "../commands/openapi.js";
import { startSystem, type TestSystem } from "./system.js";

/**
 * The contract test generated from the committed OpenAPI documents (docs/openapi/<service>.json),
 * against the four services on real NATS and PostgreSQL: every operation of every document is called
 * with a valid request (parameters and bodies from the document's examples, else sampled from its
 * schemas; a path parameter named like a field an earlier answer held takes that value) and must
 * answer its documented 2xx with a body its schema accepts; each field it validates, made invalid
 * alone, must be answered with the documented 400 naming that field; operator routes without a token
 * with the documented 401; an unknown resource with the documented 404.
 */

type Schema = Record<string, unknown> & {
  type?: string;
  examples?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
};
interface Operation {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly op: O.OperationObject;
}
interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: unknown;
}

const TOKEN = "e2e-operator-token-not-a-secret";
const root = fileURLToPath(new URL("../../../..", import.meta.url));
const definitions = [order, inventory, billing, saga];
const documents = Object.fromEntries(
  definitions.map((d) => [
    d.name,
    JSON.parse(readFileSync(join(root, OPENAPI_DIR, `${d.name}.json`), "utf8")) as O.Document,
  ]),
);
const ajv = new Ajv2020({ strict: false, validateFormats: false });
const METHOD_ORDER = ["put", "post", "get"];
/** Every operation, those that create state (PUT, POST) before those that read it. */
const operations: Operation[] = Object.entries(documents)
  .flatMap(([service, doc]) =>
    Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      METHOD_ORDER.filter((m) => item?.[m as O.HttpMethods]).map((method) => ({
        service,
        method,
        path,
        op: item?.[method as O.HttpMethods] as O.OperationObject,
      })),
    ),
  )
  .sort((a, b) => METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method));
const name = (o: Operation) => `${o.service}: ${o.method.toUpperCase()} ${o.path}`;

/** A value the schema accepts: its example, else the least one its constraints allow. */
function sample(s: Schema): unknown {
  if (s.examples?.length) return s.examples[0];
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  switch (s.type) {
    case "object":
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties?.[k] ?? {})]));
    case "array":
      return Array.from({ length: Math.max(1, Number(s.minItems ?? 1)) }, () => sample(s.items ?? {}));
    case "string":
      return "x".repeat(Math.max(1, Number(s.minLength ?? 1)));
    case "integer":
    case "number":
      return s.minimum ?? (typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum + 1 : 1);
    case "boolean":
      return true;
  }
  throw new Error(`no sample for ${JSON.stringify(s)}`);
}

/** A value of the wrong kind for the schema, or one just outside its bounds. */
function invalid(s: Schema): unknown {
  if (s.type === "string") return typeof s.maxLength === "number" ? "x".repeat(s.maxLength + 1) : "a\u0000b";
  if (s.type === "integer" || s.type === "number") return "not a number";
  return 42;
}

const parameters = (o: Operation, where: string) =>
  ((o.op.parameters ?? []) as O.ParameterObject[]).filter((p) => p.in === where);
const bodyOf = (o: Operation) =>
  (o.op.requestBody as O.RequestBodyObject | undefined)?.content["application/json"];

describe("every documented route answers as documented (four services, real NATS and PostgreSQL)", () => {
  let sys: TestSystem;
  /** Fields of earlier answers, by name: the order id POST /orders created, for GET /orders/{orderId}. */
  const known = new Map<string, string>();

  beforeAll(async () => {
    sys = await startSystem(definitions, { OPERATOR_TOKEN: TOKEN });
  }, 60_000);
  afterAll(async () => {
    await sys?.[Symbol.asyncDispose]();
  }, 60_000);

  async function call(
    o: Operation,
    change: { path?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const values = Object.fromEntries(
      parameters(o, "path").map((p) => [
        p.name,
        known.get(p.name) ?? String(p.example ?? sample(p.schema as Schema)),
      ]),
    );
    const path = o.path.replace(/\{(\w+)\}/g, (_m, p: string) =>
      encodeURIComponent({ ...values, ...change.path }[p] ?? ""),
    );
    const media = bodyOf(o);
    const body: unknown =
      "body" in change
        ? change.body
        : media && ((media.example as unknown) ?? sample(media.schema as Schema));
    const res = await fetch(`${sys.url(o.service)}${path}`, {
      method: o.method.toUpperCase(),
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...change.headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = res.headers.get("content-type") ?? "";
    const text = await res.text();
    return { status: res.status, type, body: type.startsWith("application/json") ? JSON.parse(text) : text };
  }

  /** The answer's status is documented, and its content type and body are the documented ones. */
  function expectDocumented(o: Operation, a: Answer): void {
    const response = o.op.responses?.[String(a.status)] as O.ResponseObject | undefined;
    expect(
      response,
      `${name(o)} answered ${a.status}, not documented: ${JSON.stringify(a.body)}`,
    ).toBeDefined();
    const [media, content] =
      Object.entries(response?.content ?? {}).find(([m]) => a.type.startsWith(m)) ?? [];
    expect(media, `${name(o)} ${a.status} answered ${a.type}`).toBeDefined();
    const validate = ajv.compile(content?.schema ?? {});
    expect(validate(a.body), `${name(o)} ${a.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  }

  const success = (o: Operation) => Number(Object.keys(o.op.responses ?? {}).find((s) => s.startsWith("2")));

  it("serves the committed documents at GET /openapi.json", async () => {
    for (const d of definitions) {
      const res = await fetch(`${sys.url(d.name)}/openapi.json`);
      expect(res.status).toBe(200);
      expect(await res.json(), `${d.name}: run npm run openapi`).toEqual(documents[d.name]);
    }
  });

  it("answers a valid request to each operation with its documented success", async () => {
    expect(operations.length).toBeGreaterThanOrEqual(4 * 3 + 6);
    for (const o of operations) {
      // The saga of the order just placed exists once order.created reached the coordinator.
      const a = await waitFor(`${name(o)} answers`, async () => {
        const answer = await call(o);
        return answer.status === 404 ? undefined : answer;
      });
      expect(a.status, `${name(o)}: ${JSON.stringify(a.body)}`).toBe(success(o));
      expectDocumented(o, a);
      if (a.body && typeof a.body === "object")
        for (const [k, v] of Object.entries(a.body)) if (typeof v === "string") known.set(k, v);
    }
    expect(known.get("orderId")).toBeDefined();
  });

  it("answers each field made invalid alone with the documented 400 naming it", async () => {
    let checked = 0;
    for (const o of operations) {
      const variants: { field: string; change: Parameters<typeof call>[1] }[] = [
        ...parameters(o, "path").map((p) => ({
          field: p.name,
          change: { path: { [p.name]: String(invalid(p.schema as Schema)) } },
        })),
        ...parameters(o, "header").map((p) => ({
          field: p.name,
          change: { headers: { [p.name]: String(invalid(p.schema as Schema)) } },
        })),
      ];
      const media = bodyOf(o);
      if (media) {
        const valid = ((media.example as unknown) ?? sample(media.schema as Schema)) as Record<
          string,
          unknown
        >;
        for (const [field, schema] of Object.entries((media.schema as Schema).properties ?? {}))
          if ((media.schema as Schema).required?.includes(field))
            variants.push({ field, change: { body: { ...valid, [field]: invalid(schema) } } });
      }
      for (const { field, change } of variants) {
        const a = await call(o, change);
        expect(a.status, `${name(o)} with ${field} invalid: ${JSON.stringify(a.body)}`).toBe(400);
        expectDocumented(o, a);
        const paths = (a.body as { issues: { path: string }[] }).issues.map((i) => i.path);
        expect(paths, `${name(o)} names ${field}`).toContain(field);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("answers operator routes without a token with the documented 401", async () => {
    const guarded = operations.filter((o) => o.op.security?.some((s) => "operatorToken" in s));
    expect(guarded.map(name).sort()).toEqual([
      "billing: PUT /accounts/{customerId}",
      "inventory: PUT /stock/{sku}",
      "order: PUT /prices/{sku}",
    ]);
    for (const o of guarded) {
      const a = await call(o, { headers: { authorization: "" } });
      expect(a.status, name(o)).toBe(401);
      expectDocumented(o, a);
    }
  });

  it("answers an unknown resource with the documented 404", async () => {
    const lookups = operations.filter((o) => o.method === "get" && o.op.responses?.["404"]);
    expect(lookups.length).toBe(5);
    for (const o of lookups) {
      const unknown = Object.fromEntries(parameters(o, "path").map((p) => [p.name, `unknown-${p.name}`]));
      const a = await call(o, { path: unknown });
      expect(a.status, name(o)).toBe(404);
      expectDocumented(o, a);
    }
  });
});

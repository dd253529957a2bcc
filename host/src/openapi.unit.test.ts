import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { createHttpApp } from "./http-app.js";
import { createMetrics } from "./metrics.js";
import { guardOperatorRoutes } from "./operator-auth.js";

const Params = z.object({ id: z.string().max(8) });
const Body = z.object({ items: z.array(z.object({ n: z.number().int() })).min(1) });
const Headers = z.looseObject({ "x-key": z.string().max(4).optional() });
const Thing = z.object({ id: z.string(), count: z.number().int() });

const auth = { authorization: "Bearer token" };

async function app() {
  const a = await createHttpApp(pino({ level: "silent" }), createMetrics("t"), {
    api: { title: "t service", version: "1.0.0" },
  });
  guardOperatorRoutes(a, "token");
  const api = a.withTypeProvider<ZodTypeProvider>();
  const schema = { params: Params, body: Body, headers: Headers, response: { 200: Thing } };
  api.put("/things/:id", { schema, config: { operator: true } }, async (req) => ({
    id: req.headers.authorization === auth.authorization ? req.params.id : "headers lost",
    count: req.body.items.length,
    // The header schema is loose: the other headers are still there after validation.
    secret: req.headers.authorization,
  }));
  // The same checks thrown by a handler, as routes without schemas do.
  a.put("/parsed/:id", async (req) => {
    Params.parse(req.params);
    Body.parse(req.body);
    return {};
  });
  return a;
}

describe("routes validated by their zod schemas", () => {
  it("answer 400 exactly as a ZodError thrown by a handler", async () => {
    const a = await app();
    for (const [url, payload] of [
      ["/things/x", { items: [{ n: 1 }, { n: 1.5 }] }],
      ["/things/x", { items: [] }],
      ["/things/x", []],
      ["/things/x", undefined],
      ["/things/123456789", { items: [{ n: 1 }] }],
    ] as const) {
      const typed = await a.inject({ method: "PUT", url, ...(payload && { payload }), headers: auth });
      const thrown = await a.inject({
        method: "PUT",
        url: url.replace("things", "parsed"),
        ...(payload && { payload }),
      });
      expect(typed.statusCode).toBe(400);
      expect(typed.json()).toEqual(thrown.json());
    }
    const nested = await a.inject({
      method: "PUT",
      url: "/things/x",
      payload: { items: [{ n: 1 }, { n: 1.5 }] },
      headers: auth,
    });
    expect(nested.json()).toEqual({
      error: "invalid request",
      issues: [{ path: "items.1.n", message: "Invalid input: expected int, received number" }],
    });
    const header = await a.inject({
      method: "PUT",
      url: "/things/x",
      payload: { items: [{ n: 1 }] },
      headers: { ...auth, "x-key": "too long" },
    });
    expect(header.json()).toMatchObject({ issues: [{ path: "x-key" }] });
  });

  it("answer with the response schema's fields only, and keep the request's other headers", async () => {
    const a = await app();
    const ok = await a.inject({
      method: "PUT",
      url: "/things/x",
      payload: { items: [{ n: 1 }] },
      headers: auth,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ id: "x", count: 1 });
  });

  it("are described at GET /openapi.json with the host's answers and the operator's bearer scheme", async () => {
    const a = await app();
    const doc = (await a.inject({ method: "GET", url: "/openapi.json" })).json<{
      openapi: string;
      info: unknown;
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    }>();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toEqual({ title: "t service", version: "1.0.0" });
    const put = doc.paths["/things/{id}"]?.put;
    expect(put?.security).toEqual([{ operatorToken: [] }]);
    expect(Object.keys(put?.responses ?? {}).sort()).toEqual([
      "200",
      "400",
      "401",
      "403",
      "413",
      "415",
      "503",
    ]);
    expect(doc.paths["/openapi.json"]).toBeUndefined();
  });
});

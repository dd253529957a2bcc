import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { loadSystem } from "../system/load-system.js";
import { OPENAPI_DIR, openApiFiles } from "./openapi.js";

const root = fileURLToPath(new URL("../../../..", import.meta.url));

describe("docs/openapi", () => {
  it("holds each service's current OpenAPI document, and no other (run npm run openapi)", async () => {
    const files = await openApiFiles(await loadSystem({ cwd: root }));
    expect(files.map((f) => f.name)).toEqual(["order.json", "inventory.json", "billing.json", "saga.json"]);
    for (const f of files) {
      const path = join(root, OPENAPI_DIR, f.name);
      expect(existsSync(path), `${f.name} is missing: run npm run openapi`).toBe(true);
      expect(readFileSync(path, "utf8"), `${f.name} is stale: run npm run openapi`).toBe(f.content);
    }
    expect(readdirSync(join(root, OPENAPI_DIR)).sort()).toEqual(files.map((f) => f.name).sort());
  });

  it("are valid OpenAPI 3.1, with the operator routes' bearer scheme", async () => {
    const files = await openApiFiles(await loadSystem({ cwd: root }));
    for (const f of files) {
      const result = await new Validator().validate(JSON.parse(f.content) as Record<string, unknown>);
      expect(result, f.name).toEqual({ valid: true });
    }
    const order = files[0];
    const doc = JSON.parse(order?.content ?? "{}") as {
      openapi: string;
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.operatorToken).toEqual({
      type: "http",
      scheme: "bearer",
      description: "The service's OPERATOR_TOKEN",
    });
    expect(doc.paths["/prices/{sku}"]?.put?.security).toEqual([{ operatorToken: [] }]);
    expect(doc.paths["/prices/{sku}"]?.get?.security).toBeUndefined();
    expect(doc.paths["/openapi.json"]).toBeUndefined();
  });
});

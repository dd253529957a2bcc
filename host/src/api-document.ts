import type { OpenAPIV3_1 } from "openapi-types";
import { pino } from "pino";
import type { z } from "zod";
import type { AnyCatalog } from "@orderflow/events";
import { parseConfig } from "./config.js";
import { addHealthRoutes } from "./health-routes.js";
import { createHttpApp } from "./http-app.js";
import { createMetrics } from "./metrics.js";
import { guardOperatorRoutes } from "./operator-auth.js";
import { apiInfo } from "./openapi.js";
import type { ServiceDefinition, ServiceDeps } from "./definition.js";

/**
 * The OpenAPI 3.1 document `GET /openapi.json` of a service answers, built without starting it: its
 * routes are registered on an app whose dependencies are never called (no database, no NATS), with
 * the configuration of an empty environment (defaults). For exporting the document to a file.
 * @example writeFileSync("docs/openapi/order.json", JSON.stringify(await openApiDocument(definition), null, 2));
 */
export async function openApiDocument<
  DB,
  Extra extends z.ZodRawShape = {},
  P extends AnyCatalog = AnyCatalog,
  C extends AnyCatalog = P,
>(def: ServiceDefinition<DB, Extra, P, C>): Promise<OpenAPIV3_1.Document> {
  const logger = pino({ level: "silent" });
  const metrics = createMetrics(def.name);
  const app = await createHttpApp(logger, metrics, { api: apiInfo(def) });
  try {
    guardOperatorRoutes(app, undefined);
    addHealthRoutes(app, {
      db: absent("db"),
      nc: absent("nc"),
      messaging: absent("messaging"),
      metrics,
      refreshMetrics: async () => {},
      metricsToken: undefined,
    });
    const deps: ServiceDeps<DB, Extra, P> = {
      db: absent("db"),
      outbox: absent("outbox"),
      logger,
      config: parseConfig({}, def),
      metrics,
      now: () => new Date(),
    };
    await def.routes?.(app, deps);
    await app.ready();
    return app.swagger() as OpenAPIV3_1.Document;
  } finally {
    await app.close();
  }
}

/** A dependency that is only captured while routes are registered: any use of it throws. */
function absent<T>(name: string): T {
  return new Proxy(
    {},
    {
      get: (_t, key) => {
        throw new Error(`openApiDocument: ${name}.${String(key)} used while describing routes`);
      },
    },
  ) as T;
}

import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from "fastify-type-provider-zod";
import { z } from "zod";

/** A bad request's answer (every 4xx the host renders, and a 503): what went wrong and for which field. */
export const ErrorBody = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })),
});
/** A 404's answer: `{error}` naming what is unknown. */
export const NotFoundBody = z.object({ error: z.string() });

/** What the OpenAPI document of a service says about itself. */
export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

/** The `info` of a service's OpenAPI document: `<name> service`, its definition's `api`. */
export const apiInfo = (def: {
  readonly name: string;
  readonly api?: { readonly version?: string; readonly description?: string };
}): OpenApiInfo => ({
  title: `${def.name} service`,
  version: def.api?.version ?? "1.0.0",
  ...(def.api?.description ? { description: def.api.description } : {}),
});

/** The security scheme operator routes declare (`config: { operator: true }`). */
export const OPERATOR_SCHEME = "operatorToken";
const METRICS_SCHEME = "metricsToken";

/**
 * Makes `app` validate and serialize with the zod schemas of its routes (`schema: {params, body,
 * headers, response}`) and describe them in an OpenAPI 3.1 document served at `GET /openapi.json`.
 * Validation failures answer 400 `{error: "invalid request", issues: [{path, message}]}` (see
 * validationAnswer), like a ZodError thrown by a handler. Each documented route is given the answers the
 * host gives for it: 400 when it validates input, 401/403 and the bearer scheme when it is an
 * operator route, 503 (database unavailable) unless it declares its own.
 */
export async function installOpenApi(app: FastifyInstance, info: OpenApiInfo): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook("onRoute", documentHostAnswers);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { ...info },
      components: {
        securitySchemes: {
          [OPERATOR_SCHEME]: {
            type: "http",
            scheme: "bearer",
            description: "The service's OPERATOR_TOKEN",
          },
          [METRICS_SCHEME]: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when it is set" },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}

/** `GET /metrics` declares its optional bearer token (METRICS_TOKEN) with this. */
export const metricsSecurity: { [scheme: string]: string[] }[] = [{ [METRICS_SCHEME]: [] }, {}];

const hostAnswers = {
  400: ErrorBody.describe("invalid request: the issues name each field"),
  413: ErrorBody.describe("the body is over the size limit"),
  415: ErrorBody.describe("the body is not application/json"),
  401: ErrorBody.describe("no bearer token"),
  403: ErrorBody.describe("the token is not the operator token, or none is configured"),
  503: ErrorBody.describe("the database is unavailable; Retry-After says when to try again"),
};

function documentHostAnswers(route: RouteOptions): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const response: Record<string, unknown> = { ...(schema.response as object | undefined) };
  const add = (code: keyof typeof hostAnswers) => (response[code] ??= hostAnswers[code]);
  if (schema.params || schema.body || schema.headers || schema.querystring) add(400);
  if (schema.body) {
    add(413);
    add(415);
  }
  if (route.config?.operator === true) {
    schema.security = [{ [OPERATOR_SCHEME]: [] }];
    add(401);
    add(403);
  }
  if (!(schema.tags ?? []).includes("health")) add(503);
  schema.response = response;
}

/** The 400 answer of a ZodError: each issue's path (`items.0.sku`) and message. */
export const invalidRequest = (err: z.ZodError): z.infer<typeof ErrorBody> => ({
  error: "invalid request",
  issues: err.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
});

/**
 * The 400 answer of an error raised by a route's zod validation, the same as a handler's ZodError
 * gets (paths relative to the part validated: `items.0.sku`, `sku`, `idempotency-key`); undefined
 * for any other error.
 */
export function validationAnswer(err: unknown, req: FastifyRequest): z.infer<typeof ErrorBody> | undefined {
  if (!hasZodFastifySchemaValidationErrors(err)) return undefined;
  // Fastify validates an absent body as null: parsed as it arrived, it says "received undefined".
  const body: unknown = req.routeOptions.schema?.body;
  if (req.body === undefined && body instanceof z.ZodType && err.validationContext === "body") {
    const parsed = body.safeParse(undefined);
    if (parsed.error) return invalidRequest(parsed.error);
  }
  return {
    error: "invalid request",
    issues: err.validation.map((v) => ({
      path: v.instancePath.slice(1).replaceAll("/", "."),
      message: v.message ?? "invalid",
    })),
  };
}

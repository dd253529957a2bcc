import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import { ZodError } from "zod";
import { describeError, isDatabaseUnavailable, type OutageLog } from "@orderflow/outbox";
import type { Metrics } from "./metrics.js";
import { installOpenApi, invalidRequest, validationAnswer, type OpenApiInfo } from "./openapi.js";

/** `Retry-After` (seconds) of a 503 answered because the database is unreachable. */
export const DATABASE_RETRY_AFTER_S = 5;

/**
 * The Fastify app of a service: JSON bodies only, every 4xx in the `{error, issues}` shape (also
 * for what the router and Node's parser refuse), a route failing because the database is
 * unreachable answered 503 in that shape with `Retry-After` (reported to `outage`, which logs it
 * boundedly), request latency observed in `metrics`; routes validated by their zod schemas and
 * described by `GET /openapi.json` (see installOpenApi).
 */
export async function createHttpApp(
  logger: Logger,
  metrics: Metrics,
  on: { api: OpenApiInfo; outage?: OutageLog | undefined },
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    // A `__proto__` key is dropped, not answered as "malformed JSON": the JSON is valid.
    onProtoPoisoning: "remove",
    // Path parameters of any length reach the routes' validation (a 400 naming the parameter, or
    // 404): Node refuses request lines over its header limit (16 KiB by default) long before this.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, _req, reply) => void renderFrameworkError(err, reply),
    clientErrorHandler: answerClientError,
  }) as unknown as FastifyInstance;
  installErrorHandler(app, logger, on.outage);
  // Bodies are JSON only: a text/plain body is refused like any other type (415), instead of
  // reaching the routes as a string.
  app.removeContentTypeParser("text/plain");
  app.addHook("onResponse", async (req, reply) => {
    metrics.http.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });
  await installOpenApi(app, on.api);
  return app;
}

const MAX_PARAM_LENGTH = 1024 * 1024;

/**
 * Errors the router raises before any route runs, in the `{error, issues}` shape of every other
 * bad request: a path that is not valid percent-encoded UTF-8. (A parameter over MAX_PARAM_LENGTH
 * cannot arrive: Node refuses the request line first, see answerClientError.)
 */
function renderFrameworkError(err: FastifyError, reply: FastifyReply): FastifyReply {
  if (err.code === "FST_ERR_BAD_URL")
    return reply.code(400).send({
      error: "malformed URL",
      issues: [{ path: "url", message: "must be valid percent-encoded UTF-8" }],
    });
  return reply.code(err.statusCode ?? 400).send({ error: err.message, issues: [] });
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a request line or headers over
 * Node's 16 KiB, bytes that are not HTTP), answered in the `{error, issues}` shape too.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, error, issue] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [
          431,
          "request line or headers too large",
          { path: "url", message: "the request line and headers must fit in 16 KiB" },
        ]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "request timed out", { path: "request", message: "not received in time" }]
        : [400, "malformed HTTP request", { path: "request", message: err.code ?? "not HTTP/1.1" }];
  const body = JSON.stringify({ error, issues: [issue] });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

function installErrorHandler(app: FastifyInstance, logger: Logger, outage: OutageLog | undefined): void {
  app.setErrorHandler((err: FastifyError | ZodError | Error, req, reply) => {
    const invalid = err instanceof ZodError ? invalidRequest(err) : validationAnswer(err, req);
    if (invalid) return reply.code(400).send(invalid);
    const e = err as FastifyError;
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return reply.code(413).send({
        error: "request body too large",
        issues: [{ path: "body", message: `must be at most ${app.initialConfig.bodyLimit} bytes` }],
      });
    if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      const type = req.headers["content-type"];
      return reply.code(415).send({
        error: "content type must be application/json",
        issues: [
          {
            path: "content-type",
            message: type ? `must be application/json, not ${type}` : "missing; must be application/json",
          },
        ],
      });
    }
    if (e.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
      return reply.code(400).send({ error: "empty JSON body", issues: [] });
    if (e instanceof SyntaxError || e.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return reply.code(400).send({ error: "malformed JSON", issues: [] });
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
      return reply.code(e.statusCode).send({ error: e.message, issues: [] });
    // The database unreachable (refused, terminated, the pool's connect timeout): the request may
    // succeed later, so say so — not a 500 — and log it as part of the outage, not once per request.
    const unavailable = [err, (err as { cause?: unknown }).cause].find(isDatabaseUnavailable);
    if (unavailable !== undefined) {
      if (!outage?.failure(unavailable, { url: req.url }))
        logger.warn({ err: describeError(unavailable), url: req.url }, "database unavailable");
      return reply
        .code(503)
        .header("retry-after", String(DATABASE_RETRY_AFTER_S))
        .send({ error: "database unavailable", issues: [] });
    }
    logger.error({ err: describeError(err), url: req.url }, "request failed");
    return reply.code(500).send({ error: "internal error" });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url}` }),
  );
}

import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import { Kysely, PostgresDialect, sql, type Migration } from "kysely";
import pg from "pg";
import { pino, type Logger } from "pino";
import { ZodError, type z } from "zod";
import {
  controlSubject,
  createConsumer,
  createOutbox,
  createRelay,
  describeError,
  ensureStreams,
  isOutboxError,
  migrate,
  outboxStatus,
  PreparingClient,
  Topology,
  type AnyTransaction,
  type Consumer,
  type Handlers,
  type Outbox,
  type Relay,
} from "@orderflow/outbox";
import { streamNameOf, type AnyCatalog, type CloudEventOf, type StreamSpec } from "@orderflow/events";
import { parseConfig, type BaseConfig } from "./config.js";
import { createMetrics, type Metrics } from "./metrics.js";

export interface Worker {
  start(): void;
  stop(): Promise<void>;
}

export interface ServiceDeps<DB, Extra extends z.ZodRawShape = {}, P extends AnyCatalog = AnyCatalog> {
  readonly db: Kysely<DB>;
  /** Writes the service's own events (its `publishes` catalog). */
  readonly outbox: Outbox<P>;
  readonly logger: Logger;
  readonly config: BaseConfig & z.infer<z.ZodObject<Extra>>;
  readonly metrics: Metrics;
  readonly now: () => Date;
}

/**
 * A service: what it publishes and consumes, its database, handlers, routes and workers. `P` is the
 * catalog of the events it publishes, `C` the catalog of those its handlers take (its own and
 * other systems', merged with `mergeCatalogs`).
 */
export interface ServiceDefinition<
  DB,
  Extra extends z.ZodRawShape = {},
  P extends AnyCatalog = AnyCatalog,
  C extends AnyCatalog = P,
> {
  /** `shipping`, `inventory`…: durable consumer name, inbox key, env prefix (`SHIPPING_PORT`). */
  readonly name: string;
  /** `ce-source` of what it publishes; default `/<name>`. */
  readonly source?: string;
  /** Database name on the `DATABASE_URL` server. */
  readonly database: string;
  readonly defaultPort: number;
  readonly migrations: Record<string, Migration>;
  readonly config?: Extra;
  /** The events it publishes: its outbox and `emit` take only these; their streams are provisioned. */
  readonly publishes: P;
  /** The events its handlers take (default `publishes`); only the streams of handled events are provisioned. */
  readonly consumes?: C;
  readonly handlers?: (deps: ServiceDeps<DB, Extra, P>) => Handlers<C, P>;
  readonly routes?: (app: FastifyInstance, deps: ServiceDeps<DB, Extra, P>) => void | Promise<void>;
  readonly workers?: (deps: ServiceDeps<DB, Extra, P>) => Worker[];
  /**
   * Consumer lanes when CONSUMER_CONCURRENCY is unset (default 1). More than one only if the
   * handlers of different orders never lock the same rows (see ConsumerOptions.concurrency).
   */
  readonly consumerConcurrency?: number;
  /**
   * How to rebuild the service's state from the events it published (its own stream, in order).
   * Services whose every state change is an event they emit can offer this to `orderflow rebuild`.
   */
  readonly projection?: {
    readonly context: string;
    readonly apply: (trx: AnyTransaction, event: CloudEventOf<P>) => Promise<void>;
  };
}

/**
 * Declares a service with its types inferred from the catalogs; `DB` (the database's kysely types)
 * is given first, the rest is inferred.
 * @example
 * export const definition = defineService<ShippingDb>()({
 *   name: "shipping", database: "shipping", defaultPort: 3010, migrations,
 *   publishes: shipping, consumes: mergeCatalogs(orderflow, shipping),
 *   handlers: () => ({ "order.confirmed": async (event, { trx, emit }) => { … } }),
 * });
 */
export function defineService<DB>() {
  return <Extra extends z.ZodRawShape = {}, P extends AnyCatalog = AnyCatalog, C extends AnyCatalog = P>(
    def: ServiceDefinition<DB, Extra, P, C>,
  ): ServiceDefinition<DB, Extra, P, C> => def;
}

/** What a service provisions: the streams it publishes to and those of the events it handles. */
function streamsOf(publishes: AnyCatalog, consumes: AnyCatalog, handled: readonly string[]): StreamSpec[] {
  const contexts = new Set([...publishes.contexts, ...handled.map((name) => consumes.get(name)?.context)]);
  return [...contexts]
    .filter((c): c is string => c !== undefined)
    .map((c) => ({ name: streamNameOf(c), subjects: [`${c}.>`] }));
}

export interface RunningService<DB> {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly db: Kysely<DB>;
  readonly nc: NatsConnection;
  readonly relay: Relay;
  readonly consumer: Consumer | undefined;
  readonly config: BaseConfig;
  /** Graceful: HTTP closed, workers and consumers finish in-flight work, relay stops, NATS drained, pool closed. */
  stop(): Promise<void>;
}

export interface StartOverrides {
  /** Environment to parse instead of `process.env`. */
  readonly env?: Record<string, string | undefined>;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * Starts a service in this process: config, database + migrations, NATS + streams, outbox relay,
 * consumers, workers and the HTTP server with /healthz, /readyz and /metrics.
 */
export async function startService<
  DB,
  Extra extends z.ZodRawShape = {},
  P extends AnyCatalog = AnyCatalog,
  C extends AnyCatalog = P,
>(def: ServiceDefinition<DB, Extra, P, C>, overrides: StartOverrides = {}): Promise<RunningService<DB>> {
  const config = parseConfig(overrides.env ?? process.env, def);
  const concurrency = config.consumer.concurrency ?? def.consumerConcurrency ?? 1;
  const logger = overrides.logger ?? pino({ name: def.name, level: config.logLevel });
  const now = overrides.now ?? (() => new Date());
  const metrics = createMetrics(def.name);
  const topology = new Topology(config.namespace);
  const cleanup: (() => Promise<unknown>)[] = [];
  const undo = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  };

  try {
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: concurrency + 6,
      ...(config.preparedStatements ? { Client: PreparingClient } : {}),
    });
    // A client losing its server must not crash the process. The pool listens only while a client
    // is idle; a checked-out client (mid-transaction) emits 'error' with nobody listening, which
    // would be an uncaught exception. The statement in flight fails anyway, and the pool drops the
    // client when it comes back unusable.
    pool.on("error", (err) => logger.warn({ err: describeError(err) }, "idle database connection lost"));
    pool.on("connect", (client) => {
      client.on("error", (err) => logger.warn({ err: describeError(err) }, "database connection lost"));
    });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    cleanup.push(() => db.destroy());
    await migrate(db, def.migrations);

    const nc = await connect({
      servers: config.natsUrl,
      name: `orderflow-${def.name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Otherwise every publish and pull request builds two Error objects up front for their
      // stack traces: a third of the relay's CPU in the outbox benchmark.
      noAsyncTraces: true,
    });
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);

    const outbox = createOutbox({ catalog: def.publishes, source: def.source ?? `/${def.name}`, now });
    const deps: ServiceDeps<DB, Extra, P> = { db, outbox, logger, config, metrics, now };
    const consumes = def.consumes ?? (def.publishes as AnyCatalog as C);
    const handlers = def.handlers?.(deps);
    const streams = streamsOf(def.publishes, consumes, Object.keys(handlers ?? {}));
    await ensureStreams(jsm, { topology, replicas: config.replicas, streams });
    const makeRelay = () =>
      createRelay({
        connectionString: config.databaseUrl,
        js,
        topology,
        logger,
        ...config.relay,
        onPublished: (n) => metrics.published.inc(n),
      });
    const makeConsumer = () =>
      handlers
        ? createConsumer({
            name: def.name,
            catalog: consumes,
            db,
            js,
            jsm,
            outbox,
            handlers,
            topology,
            logger,
            ...config.consumer,
            concurrency,
            onResult: (result) => metrics.consumed.inc({ result }),
          })
        : undefined;
    // Replaced on resume after a pause (see `control` below).
    let relay = makeRelay();
    let consumer = makeConsumer();
    const workers = def.workers?.(deps) ?? [];

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
    installErrorHandler(app, logger);
    // Bodies are JSON only: a text/plain body is refused like any other type (415), instead of
    // reaching the routes as a string.
    app.removeContentTypeParser("text/plain");
    app.addHook("onResponse", async (req, reply) => {
      metrics.http.observe(
        { method: req.method, route: req.routeOptions.url ?? "unmatched", status: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });
    app.get("/healthz", async () => ({ status: "ok" }));
    app.get("/readyz", async (_req, reply) => {
      const checks = {
        database: await sql`SELECT 1`.execute(db).then(
          () => true,
          () => false,
        ),
        nats:
          !nc.isClosed() &&
          !nc.isDraining() &&
          (await nc.flush().then(
            () => true,
            () => false,
          )),
        consumers: consumer ? consumer.running : true,
        active: !paused,
      };
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    });
    app.get("/metrics", async (_req, reply) => {
      const status = await outboxStatus(db).catch(() => undefined);
      if (status) metrics.backlog.set(status.backlog);
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    await def.routes?.(app, deps);

    relay.start();
    cleanup.push(() => relay.stop());
    if (consumer) await consumer.start();
    cleanup.push(async () => consumer?.stop());
    for (const w of workers) {
      w.start();
      cleanup.push(() => w.stop());
    }
    // Recovery tooling (`orderflow rebuild`) pauses the service's consumers and relay while it
    // replaces the database, then resumes them. One instance per service answers.
    let paused = false;
    const control = nc.subscribe(controlSubject(topology, def.name), {
      callback: (_err, msg) => {
        void (async () => {
          const command = msg.string();
          if (command === "pause" && !paused) {
            paused = true;
            await consumer?.stop();
            await Promise.race([relay.idle(), new Promise((r) => setTimeout(r, 10_000))]);
            await relay.stop();
            logger.warn("paused by control request");
          } else if (command === "resume" && paused) {
            relay = makeRelay();
            relay.start();
            consumer = makeConsumer();
            await consumer?.start();
            paused = false;
            logger.warn("resumed by control request");
          }
          msg.respond(paused ? "paused" : "running");
        })().catch((err: unknown) => {
          logger.error({ err: describeError(err) }, "control request failed");
          msg.respond(`error: ${describeError(err)}`);
        });
      },
    });
    cleanup.push(async () => control.unsubscribe());
    await app.listen({ port: config.port, host: config.host });
    cleanup.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    logger.info({ port, host: config.host }, `${def.name} service listening`);

    let stopped: Promise<void> | undefined;
    return {
      url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`,
      port,
      app,
      db,
      nc,
      get relay() {
        return relay;
      },
      get consumer() {
        return consumer;
      },
      config,
      stop: () => {
        stopped ??= (async () => {
          // Reverse start order: HTTP, workers, consumers, relay; then drain NATS and close the pool.
          const [closeNats, destroyDb, ...rest] = cleanup;
          for (const fn of rest.reverse())
            await fn().catch((err: unknown) => logger.warn({ err: describeError(err) }, "stop step failed"));
          await nc.drain().catch(() => closeNats?.());
          await destroyDb?.();
          logger.info(`${def.name} service stopped`);
        })();
        return stopped;
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
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

function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | ZodError | Error, req, reply) => {
    if (err instanceof ZodError) {
      return reply.code(400).send({
        error: "invalid request",
        issues: err.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
      });
    }
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
    logger.error({ err: describeError(err), url: req.url }, "request failed");
    return reply.code(500).send({ error: "internal error" });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url}` }),
  );
}

/**
 * The whole of a service's `main.ts`: start from the environment, stop gracefully on SIGTERM/SIGINT
 * (a second signal forces), and exit when a parent that spawned us with an IPC channel goes away.
 * Bad configuration prints one line naming the variable and exits with code 2.
 */
export async function runService<
  DB,
  Extra extends z.ZodRawShape = {},
  P extends AnyCatalog = AnyCatalog,
  C extends AnyCatalog = P,
>(def: ServiceDefinition<DB, Extra, P, C>): Promise<void> {
  let svc: RunningService<DB>;
  try {
    svc = await startService(def);
  } catch (err) {
    if (isOutboxError(err) && err.code === "BAD_CONFIG") {
      process.stderr.write(`${def.name}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${def.name}: failed to start: ${describeError(err)}\n`);
    process.exit(1);
  }
  let signals = 0;
  const shutdown = () => {
    if (++signals > 1) process.exit(130);
    void svc.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // Spawned by the dev runner with an IPC channel: its death closes the channel, and we follow.
  if (process.send) process.on("disconnect", shutdown);
}

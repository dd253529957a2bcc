import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { Authenticator, NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { pino, type Logger } from "pino";
import type { z } from "zod";
import {
  controlSubject,
  createConsumer,
  createOutbox,
  createRelay,
  databaseName,
  describeError,
  ensureStreams,
  isOutboxError,
  migrate,
  openDatabase,
  OutageLog,
  Topology,
  type Consumer,
  type Relay,
  type RetentionRule,
} from "@orderflow/outbox";
import type { AnyCatalog } from "@orderflow/events";
import { parseConfig, type BaseConfig } from "./config.js";
import { connectNats, natsAuthenticator } from "./connections.js";
import { listenForControl } from "./control.js";
import { addHealthRoutes } from "./health-routes.js";
import { createHttpApp } from "./http-app.js";
import { createMessaging } from "./messaging.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { createMetricsRefresh } from "./metrics-refresh.js";
import { eventTypeOf } from "./event-type.js";
import { apiInfo } from "./openapi.js";
import { guardOperatorRoutes } from "./operator-auth.js";
import { startTracing, tracedLoggerOptions } from "./tracing/tracing.js";
import { serviceSource, streamsOf, type ServiceDefinition, type ServiceDeps } from "./definition.js";

export interface RunningService<DB> {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly db: Kysely<DB>;
  readonly nc: NatsConnection;
  readonly relay: Relay;
  readonly consumer: Consumer | undefined;
  readonly config: BaseConfig;
  /**
   * Graceful: HTTP closed, workers and consumers finish in-flight work, relay stops, NATS drained, pool
   * closed — within seconds even when the database does not answer (what did not commit is redelivered).
   */
  stop(): Promise<void>;
}

export interface StartOverrides {
  /** Environment to parse instead of `process.env`. */
  readonly env?: Record<string, string | undefined>;
  readonly now?: () => Date;
  readonly logger?: Logger;
  /**
   * How the service authenticates to NATS, e.g. `nkeyAuthenticator(seed)` for a user holding
   * `natsPermissions(definition)`; default the identity of its environment (`NATS_NKEY_SEED`, or
   * `NATS_USER` and `NATS_PASSWORD`), else anonymous.
   */
  readonly natsAuthenticator?: Authenticator;
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
  const logger =
    overrides.logger ?? pino({ name: def.name, level: config.logLevel, ...tracedLoggerOptions() });
  const tracing = await startTracing(def.name, logger);
  const now = overrides.now ?? (() => new Date());
  const metrics = createMetrics(def.name);
  const topology = new Topology(config.namespace);
  const cleanup: (() => Promise<unknown>)[] = [];
  const undo = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  };

  try {
    // A connection losing its server must not crash the process: the statement in flight fails
    // anyway, and the pool drops the client when it comes back unusable. While the database is
    // unreachable, the pool's losses and the routes' 503s are logged once, then once a minute.
    const outage = new OutageLog({ what: "service", logger });
    const db = openDatabase<DB>({
      connectionString: config.databaseUrl,
      max: concurrency + 6,
      preparedStatements: config.preparedStatements,
      // A request fails (503) rather than waits when the server does not answer.
      connectTimeoutMs: DATABASE_CONNECT_TIMEOUT_MS,
      onConnectionError: (err) => {
        if (!outage.failure(err)) logger.warn({ err: describeError(err) }, "database connection lost");
      },
      onConnect: () => outage.reachable(),
    });
    cleanup.push(() => db.destroy());
    await migrate(db, def.migrations);
    const nc = await connectNats(config.natsUrl, def.name, {
      namespace: config.namespace,
      authenticator: overrides.natsAuthenticator ?? natsAuthenticator(config.natsCredentials),
      ...(config.natsTls ? { tls: config.natsTls } : {}),
    });
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);

    const outbox = createOutbox({ catalog: def.publishes, source: serviceSource(def), now });
    const deps: ServiceDeps<DB, Extra, P> = { db, outbox, logger, config, metrics, now };
    const consumes = def.consumes ?? (def.publishes as AnyCatalog as C);
    const handlers = def.handlers?.(deps);
    const streams = streamsOf(def.publishes, consumes, handlers ?? {});
    await ensureStreams(jsm, {
      topology,
      replicas: config.replicas,
      streams,
      deadLetters: config.deadLetters,
    });
    const eventType = eventTypeOf(consumes, topology);
    const retention = def.retention?.(deps) ?? [];
    const messaging = createMessaging({
      logger,
      relay: () => relayOf({ config, js, topology, logger, metrics, retention }),
      consumer: () =>
        handlers &&
        createConsumer({
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
          ...(def.lockBatch ? { lockBatch: def.lockBatch } : {}),
          onResult: (result, subject) => metrics.consumed.inc({ result, event_type: eventType(subject) }),
          onHandled: (event_type, seconds) => metrics.handlerDuration.observe({ event_type }, seconds),
        }),
    });
    const workers = def.workers?.(deps) ?? [];

    const app = await createHttpApp(logger, metrics, { outage, api: apiInfo(def) });
    tracing.instrumentHttp(app);
    const operatorRoutes = guardOperatorRoutes(app, config.operatorToken);
    const refreshMetrics = createMetricsRefresh({ metrics, db, jsm, messaging, topology });
    addHealthRoutes(app, { db, nc, messaging, metrics, refreshMetrics, metricsToken: config.metricsToken });
    await def.routes?.(app, deps);
    if (operatorRoutes.length && config.operatorToken === undefined)
      logger.warn(
        { routes: operatorRoutes },
        "OPERATOR_TOKEN is not set: operator routes refuse every request (403)",
      );

    await messaging.start();
    cleanup.push(() => messaging.stop());
    for (const w of workers) {
      w.start();
      cleanup.push(() => w.stop());
    }
    const control = listenForControl(
      nc,
      controlSubject(topology, def.name),
      messaging,
      logger,
      databaseName(config.databaseUrl),
    );
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
        return messaging.relay;
      },
      get consumer() {
        return messaging.consumer;
      },
      config,
      stop: () =>
        (stopped ??= stopInReverse(cleanup, nc, logger).then(async () => {
          logger.info(`${def.name} service stopped`);
          await settlesWithin(tracing.flush(), TRACE_FLUSH_MS);
        })),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

function relayOf(on: {
  config: BaseConfig;
  js: JetStreamClient;
  topology: Topology;
  logger: Logger;
  metrics: Metrics;
  retention: readonly RetentionRule[];
}): Relay {
  return createRelay({
    connectionString: on.config.databaseUrl,
    js: on.js,
    topology: on.topology,
    logger: on.logger,
    ...on.config.relay,
    retention: on.retention,
    onPublished: (n) => on.metrics.published.inc(n),
    onPubAck: (seconds) => on.metrics.commitToAck.observe(seconds),
  });
}

/** How long the pool waits for a connection (and a request for a pooled client) before failing. */
const DATABASE_CONNECT_TIMEOUT_MS = 2000;
/** How long a stop waits for HTTP, workers, consumers and relay to finish what they are doing. */
const STOP_GRACE_MS = 2500;
const DRAIN_TIMEOUT_MS = 2000;
/** How long a stop waits for the last spans to be exported. */
const TRACE_FLUSH_MS = 2000;

/**
 * Undoes the start in reverse order — HTTP, control, workers, consumers and relay — then drains NATS
 * and closes the pool (the first two steps registered). Bounded: the steps before the drain share
 * STOP_GRACE_MS (each still gets a moment), so a database that does not answer cannot hold the stop;
 * what did not commit is not acknowledged and is redelivered, and the pool then drops its connections.
 */
async function stopInReverse(
  cleanup: (() => Promise<unknown>)[],
  nc: NatsConnection,
  logger: Logger,
): Promise<void> {
  const [destroyDb, closeNats, ...rest] = cleanup;
  const deadline = Date.now() + STOP_GRACE_MS;
  let late = 0;
  for (const fn of rest.reverse()) {
    const step = fn().catch((err: unknown) => logger.warn({ err: describeError(err) }, "stop step failed"));
    if (!(await settlesWithin(step, Math.max(100, deadline - Date.now())))) late++;
  }
  if (late)
    logger.warn({ steps: late, graceMs: STOP_GRACE_MS }, "stop steps did not finish in time; going on");
  if (
    !(await settlesWithin(
      nc.drain().catch(() => closeNats?.()),
      DRAIN_TIMEOUT_MS,
    ))
  )
    await closeNats?.().catch(() => {});
  await destroyDb?.().catch((err: unknown) =>
    logger.warn({ err: describeError(err) }, "closing the pool failed"),
  );
}

/** Whether `p` settles within `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(done, done);
  });
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

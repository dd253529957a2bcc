import type { FastifyInstance } from "fastify";
import type { Kysely, Migration, Transaction } from "kysely";
import type { Logger } from "pino";
import type { z } from "zod";
import { handledStreams, type Handlers, type Outbox, type RetentionRule } from "@orderflow/outbox";
import type { AnyCatalog, CloudEventOf, StreamSpec } from "@orderflow/events";
import type { BaseConfig } from "./config.js";
import type { Metrics } from "./metrics.js";

/** What a service is: its definition (this file) is what `startService` (./service.ts) runs. */
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
  readonly handlers?: (deps: ServiceDeps<DB, Extra, P>) => Handlers<C, P, DB>;
  readonly routes?: (app: FastifyInstance, deps: ServiceDeps<DB, Extra, P>) => void | Promise<void>;
  readonly workers?: (deps: ServiceDeps<DB, Extra, P>) => Worker[];
  /**
   * Consumer lanes when CONSUMER_CONCURRENCY is unset (default 1). More than one only if the
   * handlers of different orders never lock the same rows (see ConsumerOptions.concurrency).
   */
  readonly consumerConcurrency?: number;
  /** Its HTTP API's version and description in the OpenAPI document (`GET /openapi.json`). */
  readonly api?: { readonly version?: string; readonly description?: string };
  /** Its own tables whose rows expire (e.g. idempotency keys), pruned in batches with the outbox. */
  readonly retention?: (deps: ServiceDeps<DB, Extra, P>) => readonly RetentionRule[];
  /**
   * Locks, in one fixed order, the rows a consumer transaction's handlers will touch, before any
   * runs: needed once two instances (or lanes) share rows (see ConsumerOptions.lockBatch).
   */
  // A method, so that a definition with its own catalogs stays assignable to ServiceDefinition<any, any>.
  lockBatch?(this: void, trx: Transaction<DB>, events: readonly CloudEventOf<C>[]): Promise<void>;
  /**
   * How to rebuild the service's state from the events it published (its own stream, in order).
   * Services whose every state change is an event they emit can offer this to `orderflow rebuild`.
   */
  readonly projection?: {
    readonly context: string;
    readonly apply: (trx: Transaction<DB>, event: CloudEventOf<P>) => Promise<void>;
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
export function streamsOf(publishes: AnyCatalog, consumes: AnyCatalog, handlers: object): StreamSpec[] {
  const handled = new Set(handledStreams(handlers, consumes));
  const wanted = [...publishes.streams, ...consumes.streams.filter((s) => handled.has(s.name))];
  return wanted.filter((s, i) => wanted.findIndex((other) => other.name === s.name) === i);
}

/** The `ce-source` of a service's events: its definition's `source`, else `/<name>`. */
export const serviceSource = (def: Pick<ServiceDefinition<unknown>, "name" | "source">): string =>
  def.source ?? `/${def.name}`;

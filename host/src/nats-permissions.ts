import type { AnyCatalog, StreamSpec } from "@orderflow/events";
import { controlSubject, durablesFor, OutboxError, Topology, type AnyHandlers } from "@orderflow/outbox";
import { pino } from "pino";
import { natsInboxPrefix } from "./connections.js";
import { streamsOf, type ServiceDefinition } from "./definition.js";

/**
 * What one NATS user may do, in nats-server's configuration format (`authorization { users = [ {
 * nkey: "U…", permissions: <this> } ] }`); `JSON.stringify` of it is valid server configuration.
 */
export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
  /** Lets the user answer a request it received, once, on that request's reply subject. */
  readonly allow_responses?: boolean;
}

export interface NatsPermissionOptions {
  /** `NATS_NAMESPACE` of the system; default none. */
  readonly namespace?: string;
}

export interface ServicePermissionOptions extends NatsPermissionOptions {
  /**
   * The names of the events the service handles; default the keys of the map its `handlers`
   * factory returns, built with deps that throw when used (a factory that needs its deps while it
   * builds the map must be given this).
   */
  readonly handles?: readonly string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDefinition = ServiceDefinition<any, any>;

/** The name of the operator's identity (the `orderflow` CLI) and of its inbox prefix. */
export const OPERATOR_IDENTITY = "orderflow";

/*
 * The subjects nats.js 3.4 (@nats-io/jetstream) sends, observed on nats-server 2.9.10 with
 * `NATS_TRACE_LOG` set for nats-permissions.int.test.ts (the server's -DV trace), and the same in
 * nats-server 2.10.0's source (server/jetstream_api.go, consumer.go); nothing differs between them:
 *
 * - `jetstreamManager(nc)` checks the API with `$JS.API.INFO`.
 * - `jsm.streams.info/add/update(name)`: `$JS.API.STREAM.INFO|CREATE|UPDATE.<stream>`.
 * - `jsm.consumers.info(stream, name)`, and `js.consumers.get(stream, name)`:
 *   `$JS.API.CONSUMER.INFO.<stream>.<name>`.
 * - `jsm.consumers.add/update` of a durable with one `filter_subject` (servers >= 2.9.0):
 *   `$JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>`; the server checks that the subject's
 *   filter is the config's, so the permission pins the durable's filter too. (Before 2.9 it was
 *   `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`; `filter_subjects`, 2.10+, sends
 *   `$JS.API.CONSUMER.CREATE.<stream>`: the runtime's durables use neither.)
 * - `consumer.consume()` pulls with `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`, the reply
 *   subject (where the messages arrive) under the connection's inbox prefix.
 * - `ack`, `nak`, `working` (+WPI), `term` publish to the message's reply subject,
 *   `$JS.ACK.<stream>.<durable>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`.
 *   `allow_responses` alone would let one through per delivery, not a +WPI and then the ack.
 *   (Servers from 2.14 can be switched to a second format, `$JS.ACK.<domain>.<account
 *   hash>.<stream>.<durable>.…`, by the feature flag `js_ack_fc_v2`, off by default: not covered.)
 * - `js.publish(subject, …)` publishes on the subject with a reply under the inbox prefix (the
 *   PubAck), as every request does.
 */

/**
 * The least a service's NATS user needs, derived from its definition: publish its own events
 * (exact subjects) and its dead letters (`dlq.<name>.<filter>` for each durable); look up and create
 * the streams it provisions (`STREAM.CREATE` of a stream that exists with another configuration
 * fails), and update only its own (those of its `publishes` catalog), so that a consumer cannot
 * rewrite another context's stream or the dead letters: drift there makes it refuse to start,
 * naming the stream, until the operator applies the change; create, read, pull from and ack only
 * its own durables (its redrive durable on the dead letters included); read replies only under its own inbox prefix (`natsInboxPrefix(name)`, which
 * `startService` connects with); take requests on its control subject and answer them. Everything
 * else is refused.
 * @example
 * natsPermissions(inventory, { namespace: "t1" }).publish.allow // ["t1.inventory.stock.reserved", …]
 */
export function natsPermissions(def: AnyDefinition, opts: ServicePermissionOptions = {}): NatsPermissions {
  const topology = new Topology(opts.namespace);
  const consumes: AnyCatalog = def.consumes ?? def.publishes;
  const handlers = handlerMap(def, opts.handles);
  // Its own streams (those of its events) it creates and brings in line; the others it provisions
  // (those of events it handles, and the dead letters) it may create when it comes up first, which
  // cannot change one that exists; changing those is the operator's.
  const own = new Set(def.publishes.streams.map((s) => topology.stream(s.name)));
  const streams = [
    ...streamsOf(def.publishes, consumes, handlers).map((s) => topology.stream(s.name)),
    topology.deadLetterStream,
  ];
  const durables = durablesFor(handlers, consumes, topology, def.name);
  const api = "$JS.API";
  const publish = [
    ...def.publishes.names.map((n) => topology.subject(def.publishes.subject(n))),
    ...durables
      .filter((d) => d.stream !== topology.deadLetterStream)
      .map((d) => topology.deadLetterSubject(def.name, d.filter)),
    `${api}.INFO`,
    ...unique(streams).flatMap((s) =>
      (own.has(s) ? ["INFO", "CREATE", "UPDATE"] : ["INFO", "CREATE"]).map(
        (op) => `${api}.STREAM.${op}.${s}`,
      ),
    ),
    ...durables.flatMap((d) => [
      `${api}.CONSUMER.INFO.${d.stream}.${d.consumer}`,
      `${api}.CONSUMER.CREATE.${d.stream}.${d.consumer}.${d.filter}`,
      `${api}.CONSUMER.MSG.NEXT.${d.stream}.${d.consumer}`,
      `$JS.ACK.${d.stream}.${d.consumer}.>`,
    ]),
  ];
  return {
    publish: { allow: unique(publish) },
    subscribe: {
      allow: [`${natsInboxPrefix(def.name, opts.namespace)}.>`, controlSubject(topology, def.name)],
    },
    allow_responses: true,
  };
}

/**
 * The operator's user (the `orderflow` CLI): the whole JetStream API (`$JS.API.>`: streams,
 * consumers, messages — what reading, replaying, resetting, redriving and purging use), the control
 * subjects of the given services, publishing on the streams their events are in (`republish` puts
 * events back on their original subjects) and on `redrive.*.>` (`dlq redrive` sends a letter to its
 * consumer), and replies only under its own inbox
 * prefix (`natsInboxPrefix(OPERATOR_IDENTITY)`).
 */
export function operatorPermissions(
  defs: readonly AnyDefinition[],
  opts: NatsPermissionOptions = {},
): NatsPermissions {
  const topology = new Topology(opts.namespace);
  const clash = defs.find((d) => d.name === OPERATOR_IDENTITY);
  if (clash) {
    throw new OutboxError(
      "BAD_CONFIG",
      `a service named "${OPERATOR_IDENTITY}" would share the operator's NATS inbox prefix`,
    );
  }
  const subjects = defs.flatMap((def) => {
    const consumes: AnyCatalog = def.consumes ?? def.publishes;
    return streamsOf(def.publishes, consumes, handlerMap(def)).flatMap((s) =>
      s.subjects.map((subject) => topology.subject(subject)),
    );
  });
  return {
    publish: {
      allow: unique([
        "$JS.API.>",
        ...defs.map((d) => controlSubject(topology, d.name)),
        ...subjects,
        topology.redriveSubject("*", ">"),
      ]),
    },
    subscribe: { allow: [`${natsInboxPrefix(OPERATOR_IDENTITY, opts.namespace)}.>`] },
  };
}

/**
 * The streams a service provisions at start (those of the events it publishes and of those it
 * handles; the dead-letter stream comes with `ensureStreams`), derived like `natsPermissions`
 * without starting it: what an operator applies before the services start, so that a consumer
 * never has to change a stream it may only create.
 * @example
 * await ensureStreams(jsm, { topology, streams: defs.flatMap((d) => serviceStreams(d)) });
 */
export function serviceStreams(
  def: AnyDefinition,
  opts: Pick<ServicePermissionOptions, "handles"> = {},
): StreamSpec[] {
  const consumes: AnyCatalog = def.consumes ?? def.publishes;
  return streamsOf(def.publishes, consumes, handlerMap(def, opts.handles));
}

/** The handler map the service would run, or one with the given event names. */
function handlerMap(def: AnyDefinition, handles?: readonly string[]): AnyHandlers {
  if (handles) return Object.fromEntries(handles.map((n) => [n, () => {}])) as unknown as AnyHandlers;
  const unusable = (dep: string) =>
    new Proxy(
      {},
      {
        get() {
          throw new OutboxError(
            "BAD_CONFIG",
            `${def.name}: its handlers factory uses deps.${dep} while building its map; pass \`handles\``,
          );
        },
      },
    );
  const deps = {
    db: unusable("db"),
    outbox: unusable("outbox"),
    config: unusable("config"),
    metrics: unusable("metrics"),
    logger: pino({ level: "silent" }),
    now: () => new Date(),
  };
  return (def.handlers?.(deps as never) ?? {}) as AnyHandlers;
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

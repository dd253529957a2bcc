import type { z } from "zod";
import { subjectOf, type EventDefinition } from "./define.js";
import {
  decodeWith,
  encodeWith,
  type CloudEventOf,
  type DecodeOptions,
  type DecodeResult,
  type EncodedEvent,
  type EventMeta,
  type IncomingMessage,
} from "./envelope.js";
import { EventsError } from "./errors.js";
import { streamNameOf, type StreamSpec } from "./streams.js";

/** Event definitions keyed by name: what a catalog's type parameter describes. */
export type EventDefinitions = { readonly [name: string]: EventDefinition };

/** A tuple of definitions keyed by their names. */
type ByName<D extends readonly EventDefinition[]> = { readonly [E in D[number] as E["name"]]: E };

/** The definitions of `E` whose context is one of `Cs`. */
type InContexts<E extends EventDefinitions, Cs extends string> = {
  readonly [K in keyof E as E[K]["context"] extends Cs ? K : never]: E[K];
};

/**
 * A set of events a system speaks, built by the user with `defineCatalog`. Everything that depends
 * on the events is derived from it: ce-types, subjects, streams, encoding and validation. Types flow
 * from it too: `encode`, and the runtime's `enqueue`, `emit` and handler maps, accept only its
 * names with their data.
 */
export interface Catalog<E extends EventDefinitions = EventDefinitions> {
  readonly events: E;
  /** Event names in declaration order. */
  readonly names: readonly (keyof E & string)[];
  /** Bounded contexts in declaration order: one stream each. */
  readonly contexts: readonly string[];
  readonly streams: readonly StreamSpec[];
  has(this: void, name: string): name is keyof E & string;
  get(this: void, name: string): EventDefinition | undefined;
  /** `<prefix>.<name>.v<version>`; `version` defaults to the current one. */
  ceType(this: void, name: keyof E & string, version?: number): string;
  /** The event and version a ce-type names; undefined for a type of no event of this catalog. */
  resolveType(
    this: void,
    ceType: string,
  ): { readonly def: EventDefinition; readonly version: number } | undefined;
  subject(this: void, name: keyof E & string): string;
  /**
   * Encodes an event of the current version as CloudEvents binary mode for NATS. Throws
   * `EventsError` (`INVALID_EVENT`) for data that fails the schema or meta that decode would reject.
   */
  encode<N extends keyof E & string>(
    this: void,
    name: N,
    data: z.infer<E[N]["schema"]>,
    meta: EventMeta,
  ): EncodedEvent;
  /** Encodes data of a past version; for replay tests and producers not yet upgraded. */
  encodeVersion(
    this: void,
    name: keyof E & string,
    version: number,
    data: unknown,
    meta: EventMeta,
  ): EncodedEvent;
  /** Decodes and validates a message; never throws. Older versions are upcast to the current one. */
  decode(this: void, msg: IncomingMessage, opts?: DecodeOptions): DecodeResult<CloudEventOf<Catalog<E>>>;
}

/** Any catalog, whatever its events (the constraint of everything generic over a catalog). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCatalog = Catalog<any>;
export type EventNameOf<C extends AnyCatalog> = C extends Catalog<infer E> ? keyof E & string : never;
export type EventDataOf<C extends AnyCatalog, N extends EventNameOf<C>> =
  C extends Catalog<infer E> ? z.infer<E[N]["schema"]> : never;
export type EventsOf<C extends AnyCatalog> = C extends Catalog<infer E> ? E : never;

export interface CatalogOptions<D extends readonly EventDefinition[]> {
  /**
   * CloudEvents type prefix, reverse-DNS style (`com.acme.shipping`): an event's ce-type is
   * `<prefix>.<name>.v<version>`.
   */
  readonly typePrefix: string;
  readonly events: D;
}

const PREFIX = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*$/;
const NAME = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$/;
const TOKEN = /^[a-z][a-z0-9_-]*$/;
// Version 0 parses, so that decode can call it unsupported rather than unknown.
const VERSIONED = /^(.+)\.v(0|[1-9][0-9]{0,8})$/;

interface Entry {
  readonly def: EventDefinition;
  readonly typePrefix: string;
}

const entriesOf = new WeakMap<AnyCatalog, readonly Entry[]>();

/**
 * Builds a catalog from event definitions. Names must be unique; `context`, `aggregate` and
 * `event` must be lowercase subject tokens.
 * @example
 * export const shipping = defineCatalog({
 *   typePrefix: "com.acme.shipping",
 *   events: [shipmentRequested, shipmentDispatched],
 * });
 * shipping.ceType("shipment.requested") // "com.acme.shipping.shipment.requested.v1"
 */
export function defineCatalog<const D extends readonly EventDefinition[]>(
  options: CatalogOptions<D>,
): Catalog<ByName<D>> {
  if (!PREFIX.test(options.typePrefix)) {
    throw new EventsError(
      "INVALID_CATALOG",
      `typePrefix "${options.typePrefix}" must be reverse-DNS style: lowercase dot-separated words, e.g. com.acme.shipping`,
    );
  }
  for (const def of options.events) {
    if (!NAME.test(def.name))
      throw new EventsError(
        "INVALID_CATALOG",
        `event name "${def.name}" must be lowercase dot-separated words`,
      );
    for (const field of ["context", "aggregate", "event"] as const) {
      if (!TOKEN.test(def[field]))
        throw new EventsError(
          "INVALID_CATALOG",
          `${def.name}: ${field} "${def[field]}" must be a lowercase subject token`,
        );
    }
  }
  return build(options.events.map((def) => ({ def, typePrefix: options.typePrefix })));
}

/**
 * The events of some contexts of a catalog only: what one service publishes, so that its `emit`
 * accepts only those and it provisions only their streams.
 * @example const inventoryEvents = pickContexts(orderflow, "inventory")
 */
export function pickContexts<E extends EventDefinitions, const Cs extends readonly E[keyof E]["context"][]>(
  catalog: Catalog<E>,
  ...contexts: Cs
): Catalog<InContexts<E, Cs[number]>> {
  const entries = entriesOf.get(catalog) ?? [];
  const unknown = contexts.filter((c) => !entries.some((e) => e.def.context === c));
  if (unknown.length) throw new EventsError("INVALID_CATALOG", `no events in context ${unknown.join(", ")}`);
  return build(entries.filter((e) => contexts.includes(e.def.context)));
}

type Merged<Cs extends readonly AnyCatalog[]> = number extends Cs["length"]
  ? EventsOf<Cs[number]>
  : Cs extends readonly [infer H extends AnyCatalog, ...infer T extends readonly AnyCatalog[]]
    ? EventsOf<H> & Merged<T>
    : unknown;

/**
 * One catalog holding the events of several, each keeping its own type prefix: what a consumer
 * that handles the events of another system as well as its own decodes with.
 * @example mergeCatalogs(orderflow, shipping).has("order.confirmed") // true
 */
export function mergeCatalogs<const Cs extends readonly AnyCatalog[]>(
  ...catalogs: Cs
): Catalog<Extract<Merged<Cs>, EventDefinitions>> {
  const seen = new Map<string, Entry>();
  for (const c of catalogs) {
    for (const e of entriesOf.get(c) ?? []) {
      const other = seen.get(e.def.name);
      if (other && other.def !== e.def)
        throw new EventsError("INVALID_CATALOG", `two catalogs define an event named "${e.def.name}"`);
      seen.set(e.def.name, e);
    }
  }
  return build<Extract<Merged<Cs>, EventDefinitions>>([...seen.values()]);
}

function build<E extends EventDefinitions>(entries: readonly Entry[]): Catalog<E> {
  const byName = new Map<string, Entry>();
  const byType = new Map<string, EventDefinition>();
  const subjects = new Map<string, string>();
  for (const e of entries) {
    if (byName.has(e.def.name))
      throw new EventsError("INVALID_CATALOG", `event "${e.def.name}" is declared twice`);
    const subject = subjectOf(e.def);
    const clash = subjects.get(subject);
    if (clash)
      throw new EventsError("INVALID_CATALOG", `${e.def.name} and ${clash} share the subject ${subject}`);
    subjects.set(subject, e.def.name);
    byName.set(e.def.name, e);
    byType.set(`${e.typePrefix}.${e.def.name}`, e.def);
  }
  const entry = (name: string): Entry => {
    const e = byName.get(name);
    if (!e) throw new EventsError("INVALID_EVENT", `"${name}" is not an event of this catalog`);
    return e;
  };
  const ceType = (name: string, version?: number): string => {
    const e = entry(name);
    return `${e.typePrefix}.${name}.v${version ?? e.def.version}`;
  };
  const resolveType = (type: string) => {
    const m = VERSIONED.exec(type);
    const def = m ? byType.get(m[1]!) : undefined;
    return def ? { def, version: Number(m![2]) } : undefined;
  };
  const contexts = [...new Set(entries.map((e) => e.def.context))];
  const catalog: Catalog<E> = {
    events: Object.fromEntries(entries.map((e) => [e.def.name, e.def])) as unknown as E,
    names: entries.map((e) => e.def.name),
    contexts,
    streams: contexts.map((context) => ({ name: streamNameOf(context), subjects: [`${context}.>`] })),
    has: (name): name is keyof E & string => byName.has(name),
    get: (name) => byName.get(name)?.def,
    ceType,
    resolveType,
    subject: (name) => subjectOf(entry(name).def),
    encode: (name, data, meta) => {
      const { def } = entry(name);
      return encodeWith(def, ceType(name), def.version, data, meta);
    },
    encodeVersion: (name, version, data, meta) =>
      encodeWith(entry(name).def, ceType(name, version), version, data, meta),
    decode: (msg, opts) => decodeWith(resolveType, msg, opts) as DecodeResult<CloudEventOf<Catalog<E>>>,
  };
  entriesOf.set(catalog, entries);
  return catalog;
}

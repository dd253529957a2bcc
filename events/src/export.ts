import { z } from "zod";
import type { AnyCatalog } from "./catalog.js";
import { subjectOf, type EventDefinition } from "./define.js";
import { CONTENT_TYPE, Header, SPEC_VERSION } from "./envelope.js";
import { streamNameOf } from "./streams.js";

// Contracts for consumers in other languages: one JSON Schema per event type and version, and an
// AsyncAPI document tying them to NATS subjects and the CloudEvents headers. Pure and
// deterministic (keys in catalog order), so the committed files can be checked for staleness.

export type JsonSchema = z.core.JSONSchema.JSONSchema;

/** Where a version's JSON Schema lives, relative to the events package (and to asyncapi.yaml). */
export const schemaPath = (ceType: string): string => `schemas/${ceType}.json`;

/** The `$id` of a version's JSON Schema: location-independent, derived from the CloudEvents type. */
export const schemaId = (ceType: string): string => `urn:orderflow:schema:${ceType}`;

interface Version {
  readonly def: EventDefinition;
  readonly version: number;
  readonly schema: z.ZodType;
  readonly ceType: string;
  readonly current: boolean;
}

/** Every supported version of every event: catalog order, oldest version first. */
function versions(catalog: AnyCatalog): Version[] {
  return catalog.names
    .map((name) => catalog.get(name)!)
    .flatMap((def) =>
      [...def.past, { version: def.version, schema: def.schema }].map(({ version, schema }) => ({
        def,
        version,
        schema,
        ceType: catalog.ceType(def.name, version),
        current: version === def.version,
      })),
    );
}

/**
 * One JSON Schema (draft 2020-12) per CloudEvents type, keyed by that type, for the event's data.
 * Objects are closed (`additionalProperties: false`): a new field means a new version.
 * Note that `maxLength` counts code points while zod counts UTF-16 units, so for text outside the
 * Basic Multilingual Plane the schema is slightly looser than `decode`; nor do the schemas say
 * that strings hold no NUL character and no lone surrogate (see SafeString).
 * @example jsonSchemas(catalog)["orderflow.order.created.v2"].required // ["orderId", …, "currency"]
 */
export function jsonSchemas(catalog: AnyCatalog): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const { def, version, schema, ceType } of versions(catalog)) {
    const { $schema, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12" });
    out[ceType] = {
      $schema,
      $id: schemaId(ceType),
      title: `${def.name} v${version}`,
      description: `Data of ${ceType} events, published on ${subjectOf(def)}; ce-subject is data.${def.key}.`,
      ...rest,
    };
  }
  return out;
}

export interface AsyncApiOptions {
  /** `info.version`; e.g. the version of the package holding the catalog. */
  readonly version?: string;
  /** `info.title`, e.g. "Shipping events". */
  readonly title?: string;
  /** `info.description`: what the events are; how they travel is added. */
  readonly description?: string;
  /** How ce-source reads, for the headers schema, e.g. `/acme/<service>`. */
  readonly source?: string;
}

export interface AsyncApiDocument {
  readonly asyncapi: "3.0.0";
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly defaultContentType: string;
  readonly channels: Record<string, AsyncApiChannel>;
  readonly operations: Record<string, AsyncApiOperation>;
  readonly components: {
    readonly messages: Record<string, AsyncApiMessage>;
    readonly schemas: Record<string, JsonSchema>;
  };
}

interface Ref {
  readonly $ref: string;
}

export interface AsyncApiChannel {
  readonly address: string;
  readonly title: string;
  readonly description: string;
  readonly messages: Record<string, Ref>;
}

export interface AsyncApiOperation {
  readonly action: "send";
  readonly channel: Ref;
  readonly title: string;
  readonly messages: readonly Ref[];
}

export interface AsyncApiMessage {
  readonly name: string;
  readonly title: string;
  readonly contentType: string;
  readonly deprecated?: boolean;
  readonly headers: JsonSchema;
  readonly payload: Ref;
}

const HEADERS_SCHEMA = "CloudEventHeaders";

/** CloudEvents 1.0 binary content mode on NATS headers, as `encode` writes them. */
function cloudEventHeaders(catalog: AnyCatalog, source: string): JsonSchema {
  const prefixes = [...new Set(catalog.names.map((n) => catalog.ceType(n, 0).slice(0, -`.${n}.v0`.length)))];
  const escaped = prefixes.map((p) => p.replaceAll(".", "\\."));
  const prefix = escaped.length === 1 ? escaped[0]! : `(?:${escaped.join("|")})`;
  const text = (description: string): JsonSchema => ({ type: "string", minLength: 1, description });
  return {
    type: "object",
    description:
      "CloudEvents 1.0 attributes in binary content mode (NATS protocol binding). ce-* values other than " +
      "ce-specversion, ce-id, ce-type, ce-time and ce-datacontenttype are percent-encoded UTF-8.",
    properties: {
      [Header.SpecVersion]: { type: "string", const: SPEC_VERSION },
      [Header.Id]: {
        type: "string",
        format: "uuid",
        description:
          "Event id: a lowercase UUIDv7; an event caused by another gets one derived from the cause (deterministic).",
      },
      [Header.Source]: text(`The producing service: ${source}.`),
      [Header.Type]: {
        type: "string",
        pattern: `^${prefix}\\.[a-z][a-z0-9.-]*\\.v[0-9]+$`,
        description: `${prefixes.join(" | ")}.<event>.v<version>`,
      },
      [Header.Subject]: text("The aggregate id: the value of the event's key field in the data."),
      [Header.Time]: { type: "string", format: "date-time", description: "RFC 3339, UTC." },
      [Header.DataContentType]: { type: "string", const: CONTENT_TYPE },
      [Header.CorrelationId]: text("Extension: the order / saga the event belongs to."),
      [Header.CausationId]: text("Extension: ce-id of the event that caused this one."),
      [Header.MsgId]: {
        type: "string",
        format: "uuid",
        description: "Equals ce-id; JetStream drops duplicates on it.",
      },
      [Header.TraceParent]: { type: "string", description: "W3C Trace Context, not percent-encoded." },
      [Header.TraceState]: { type: "string", description: "W3C Trace Context, not percent-encoded." },
    },
    required: [
      Header.SpecVersion,
      Header.Id,
      Header.Source,
      Header.Type,
      Header.Subject,
      Header.Time,
      Header.DataContentType,
      Header.CorrelationId,
      Header.MsgId,
    ],
  };
}

/**
 * An AsyncAPI 3.0.0 document: one channel per event (address = NATS subject) carrying every
 * supported version as a message, and one `send` operation per event for its current version.
 * Payloads reference the files of `jsonSchemas()` at `schemaPath(ceType)`.
 * @example stringify(asyncApiDocument(catalog, { version: "1.2.0" })) // with the `yaml` package
 */
export function asyncApiDocument(catalog: AnyCatalog, options: AsyncApiOptions = {}): AsyncApiDocument {
  const channels: Record<string, AsyncApiChannel> = {};
  const operations: Record<string, AsyncApiOperation> = {};
  const messages: Record<string, AsyncApiMessage> = {};
  for (const { def, version, ceType, current } of versions(catalog)) {
    messages[ceType] = {
      name: ceType,
      title: `${def.name} v${version}`,
      contentType: CONTENT_TYPE,
      ...(current ? {} : { deprecated: true }),
      headers: {
        allOf: [
          { $ref: `#/components/schemas/${HEADERS_SCHEMA}` },
          { type: "object", properties: { [Header.Type]: { type: "string", const: ceType } } },
        ],
      },
      payload: { $ref: `./${schemaPath(ceType)}` },
    };
    const channel = (channels[def.name] ??= {
      address: subjectOf(def),
      title: def.name,
      description:
        `Stream ${streamNameOf(def.context)}.` +
        (def.past.length
          ? ` Older versions may still be in it; decode upcasts them to v${def.version}.`
          : ""),
      messages: {},
    });
    channel.messages[ceType] = { $ref: `#/components/messages/${ceType}` };
    if (current) {
      operations[`send.${def.name}`] = {
        action: "send",
        channel: { $ref: `#/channels/${def.name}` },
        title: `Publish ${def.name}`,
        messages: [{ $ref: `#/channels/${def.name}/messages/${ceType}` }],
      };
    }
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: options.title ?? "Events",
      version: options.version ?? "0.0.0",
      description:
        `${options.description ?? "Domain events"} over NATS JetStream, as CloudEvents 1.0 in binary ` +
        "content mode: attributes in ce-* headers, the data as JSON in the body. One stream per bounded " +
        "context; a message's JSON Schema is selected by its ce-type. With NATS_NAMESPACE set, subjects " +
        'are prefixed with "<ns>." and stream names with "<ns>_".',
    },
    defaultContentType: CONTENT_TYPE,
    channels,
    operations,
    components: {
      messages,
      schemas: { [HEADERS_SCHEMA]: cloudEventHeaders(catalog, options.source ?? "/<service>") },
    },
  };
}

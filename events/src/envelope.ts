import type { AnyCatalog, Catalog, EventDataOf, EventDefinitions, EventNameOf } from "./catalog.js";
import { subjectOf, type EventDefinition } from "./define.js";
import { DecodeError, DecodeErrorCode, EventsError } from "./errors.js";
import { decodeHeaderValue, encodeHeaderValue } from "./header-codec.js";

export const SPEC_VERSION = "1.0";
export const CONTENT_TYPE = "application/json";
/** Default upper bound on an event body; NATS' own default max_payload is 1 MiB. */
export const DEFAULT_MAX_BYTES = 512 * 1024;

export const Header = {
  SpecVersion: "ce-specversion",
  Id: "ce-id",
  Source: "ce-source",
  Type: "ce-type",
  Subject: "ce-subject",
  Time: "ce-time",
  DataContentType: "ce-datacontenttype",
  CorrelationId: "ce-correlationid",
  CausationId: "ce-causationid",
  MsgId: "Nats-Msg-Id",
  TraceParent: "traceparent",
  TraceState: "tracestate",
} as const;

export interface EventMeta {
  /** UUIDv7 (or a deterministic UUID derived from the causing event). */
  readonly id: string;
  /** `ce-source`: the producing service, e.g. `/orderflow/order`. */
  readonly source: string;
  readonly time: Date;
  readonly correlationId: string;
  readonly causationId?: string | undefined;
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

export interface EncodedEvent {
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
}

/**
 * An event of catalog `C` as a handler sees it: data upcast to the current version and typed by
 * name. Unparameterised by name, it is a union discriminated by `name`.
 */
export type CloudEventOf<C extends AnyCatalog, N extends EventNameOf<C> = EventNameOf<C>> = {
  [K in N]: {
    readonly name: K;
    readonly data: EventDataOf<C, K>;
    readonly id: string;
    readonly source: string;
    /** ce-subject: the aggregate id. */
    readonly subject: string;
    readonly time: string;
    /** Version the event was published with (before upcasting). */
    readonly version: number;
    readonly correlationId: string;
    readonly causationId?: string | undefined;
    readonly traceparent?: string | undefined;
    readonly tracestate?: string | undefined;
  };
}[N];

export interface HeaderSource {
  get(name: string): string | null | undefined;
}

export interface IncomingMessage {
  readonly subject: string;
  readonly headers: HeaderSource | undefined;
  readonly data: Uint8Array;
}

/** An event of any catalog: name a string, data unknown. */
export type AnyCloudEvent = CloudEventOf<Catalog<EventDefinitions>>;

export type DecodeResult<Event = AnyCloudEvent> =
  { ok: true; event: Event } | { ok: false; error: DecodeError };

export interface DecodeOptions {
  /** Largest body accepted (default `DEFAULT_MAX_BYTES`). */
  readonly maxBytes?: number;
}

/** What a ce-type names, as a catalog resolves it. */
export type TypeResolver = (
  ceType: string,
) => { readonly def: EventDefinition; readonly version: number } | undefined;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
// A lone UTF-16 surrogate cannot be UTF-8 encoded: it would reach the header as U+FFFD.
const LONE_SURROGATE = /\p{Cs}/u;
// traceparent / tracestate travel as they are (W3C headers, not CloudEvents attributes).
const HEADER_SAFE = /^[\x20-\x7e]*$/;
const REQUIRED_ATTRIBUTES = [
  Header.SpecVersion,
  Header.Id,
  Header.Source,
  Header.Type,
  Header.Subject,
  Header.Time,
  Header.DataContentType,
  Header.CorrelationId,
];

/** RFC 3339 date-time with a real calendar date: Date.parse alone accepts 2024-02-30. */
function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const n = (group: number): number => Number(m[group] ?? 0);
  const [year, month, day] = [n(1), n(2), n(3)];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  // hour, minute, second, offset hour, offset minute
  return day <= days && n(4) <= 23 && n(5) <= 59 && n(6) <= 59 && n(7) <= 23 && n(8) <= 59;
}

/** Encodes `data` of `def` at `version` under `ceType` (see `Catalog.encode`). */
export function encodeWith(
  def: EventDefinition,
  ceType: string,
  version: number,
  data: unknown,
  meta: EventMeta,
): EncodedEvent {
  const schema = version === def.version ? def.schema : def.past.find((p) => p.version === version)?.schema;
  if (!schema) throw new EventsError("INVALID_EVENT", `${def.name} has no version ${version}`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new EventsError("INVALID_EVENT", `${def.name}.v${version}: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  }
  const key = String((parsed.data as Record<string, unknown>)[def.key]);
  const time = checkMeta(def, meta, key);
  const headers: Record<string, string> = {
    [Header.SpecVersion]: SPEC_VERSION,
    [Header.Id]: meta.id,
    [Header.Source]: encodeHeaderValue(meta.source),
    [Header.Type]: ceType,
    [Header.Subject]: encodeHeaderValue(key),
    [Header.Time]: time,
    [Header.DataContentType]: CONTENT_TYPE,
    [Header.CorrelationId]: encodeHeaderValue(meta.correlationId),
    [Header.MsgId]: meta.id,
  };
  if (meta.causationId) headers[Header.CausationId] = encodeHeaderValue(meta.causationId);
  if (meta.traceparent) headers[Header.TraceParent] = meta.traceparent;
  if (meta.tracestate) headers[Header.TraceState] = meta.tracestate;
  return { subject: subjectOf(def), headers, data: textEncoder.encode(JSON.stringify(parsed.data)) };
}

/** Rejects what decode would reject or silently alter; returns the ce-time value. */
function checkMeta(def: EventDefinition, meta: EventMeta, key: string): string {
  const invalid = (why: string) => new EventsError("INVALID_EVENT", `${def.name}: ${why}`);
  if (!UUID.test(meta.id)) throw invalid(`id "${meta.id}" is not a lowercase UUID`);
  const time = Number.isNaN(meta.time.getTime()) ? "" : meta.time.toISOString();
  if (!isRfc3339(time)) throw invalid("time must be a valid date in the years 0000 to 9999");
  if (!meta.source) throw invalid("source is empty");
  if (!meta.correlationId) throw invalid("correlationId is empty");
  const texts = {
    source: meta.source,
    correlationId: meta.correlationId,
    causationId: meta.causationId,
    [def.key]: key,
  };
  for (const [field, value] of Object.entries(texts)) {
    if (value && LONE_SURROGATE.test(value)) throw invalid(`${field} contains a lone UTF-16 surrogate`);
  }
  for (const [field, value] of [
    [Header.TraceParent, meta.traceparent],
    [Header.TraceState, meta.tracestate],
  ] as const) {
    if (value && !HEADER_SAFE.test(value)) throw invalid(`${field} must be printable ASCII`);
  }
  return time;
}

const fail = (
  code: DecodeErrorCode,
  message: string,
  issues?: { path: string; message: string }[],
): DecodeResult => ({
  ok: false,
  error: new DecodeError(code, message, issues ? { issues } : undefined),
});

/**
 * Decodes and validates a message against the events `resolve` knows (see `Catalog.decode`); never
 * throws. `msg.subject` may carry a namespace prefix (`<ns>.orders.order.created`).
 */
export function decodeWith(
  resolve: TypeResolver,
  msg: IncomingMessage,
  opts: DecodeOptions = {},
): DecodeResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (msg.data.byteLength > maxBytes) {
    return fail(
      DecodeErrorCode.PayloadTooLarge,
      `payload is ${msg.data.byteLength} bytes, limit ${maxBytes}`,
    );
  }
  const h: Record<string, string> = {};
  for (const name of REQUIRED_ATTRIBUTES) {
    const raw = msg.headers?.get(name);
    if (!raw) return fail(DecodeErrorCode.MissingHeader, `missing header ${name}`);
    const value = decodeHeaderValue(raw);
    if (value === undefined)
      return fail(DecodeErrorCode.InvalidHeader, `${name} is not valid percent-encoded UTF-8`);
    h[name] = value;
  }
  const rawCausation = msg.headers?.get(Header.CausationId) || undefined;
  const causationId = rawCausation === undefined ? undefined : decodeHeaderValue(rawCausation);
  if (rawCausation !== undefined && causationId === undefined) {
    return fail(DecodeErrorCode.InvalidHeader, `${Header.CausationId} is not valid percent-encoded UTF-8`);
  }
  if (h[Header.SpecVersion] !== SPEC_VERSION) {
    return fail(
      DecodeErrorCode.InvalidHeader,
      `${Header.SpecVersion} must be ${SPEC_VERSION}, got ${h[Header.SpecVersion]}`,
    );
  }
  if (!UUID.test(h[Header.Id]!)) return fail(DecodeErrorCode.InvalidHeader, `${Header.Id} is not a UUID`);
  if (!isRfc3339(h[Header.Time]!)) {
    return fail(DecodeErrorCode.InvalidHeader, `${Header.Time} is not an RFC 3339 timestamp`);
  }
  if (h[Header.DataContentType] !== CONTENT_TYPE) {
    return fail(DecodeErrorCode.InvalidHeader, `${Header.DataContentType} must be ${CONTENT_TYPE}`);
  }
  const parsedType = resolve(h[Header.Type]!);
  if (!parsedType) return fail(DecodeErrorCode.UnknownType, `unknown event type ${h[Header.Type]}`);
  const { def } = parsedType;
  const oldest = def.past[0]?.version ?? def.version;
  if (parsedType.version > def.version || parsedType.version < oldest) {
    return fail(
      DecodeErrorCode.UnsupportedVersion,
      `${def.name} v${parsedType.version} is not supported (v${oldest}..v${def.version})`,
    );
  }
  const expected = subjectOf(def);
  if (msg.subject !== expected && !msg.subject.endsWith(`.${expected}`)) {
    return fail(
      DecodeErrorCode.SubjectMismatch,
      `${h[Header.Type]} must be on ${expected}, came on ${msg.subject}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(textDecoder.decode(msg.data));
  } catch (err) {
    return fail(DecodeErrorCode.MalformedJson, `body is not JSON: ${(err as Error).message}`);
  }
  let data = json;
  let version = parsedType.version;
  for (const past of def.past) {
    if (past.version !== version) continue;
    const r = past.schema.safeParse(data);
    if (!r.success) return schemaFailure(def.name, version, r.error.issues);
    data = past.upcast(r.data);
    version++;
  }
  const r = def.schema.safeParse(data);
  if (!r.success) return schemaFailure(def.name, version, r.error.issues);
  const key = String((r.data as Record<string, unknown>)[def.key]);
  if (key !== h[Header.Subject]) {
    return fail(
      DecodeErrorCode.InvalidHeader,
      `${Header.Subject} "${h[Header.Subject]}" differs from data.${def.key} "${key}"`,
    );
  }
  return {
    ok: true,
    event: {
      name: def.name,
      data: r.data,
      id: h[Header.Id]!,
      source: h[Header.Source]!,
      subject: h[Header.Subject]!,
      time: h[Header.Time]!,
      version: parsedType.version,
      correlationId: h[Header.CorrelationId]!,
      causationId,
      traceparent: msg.headers?.get(Header.TraceParent) || undefined,
      tracestate: msg.headers?.get(Header.TraceState) || undefined,
    },
  };
}

function schemaFailure(
  name: string,
  version: number,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): DecodeResult {
  const list = issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
  return fail(
    DecodeErrorCode.SchemaViolation,
    `${name}.v${version} data invalid: ${list.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
    list,
  );
}

export { defineEvent, subjectOf } from "./define.js";
export type { EventDefinition, PastVersion } from "./define.js";
export { defineCatalog, mergeCatalogs, pickContexts } from "./catalog.js";
export type {
  AnyCatalog,
  Catalog,
  CatalogOptions,
  EventDataOf,
  EventDefinitions,
  EventNameOf,
  EventsOf,
} from "./catalog.js";
export { SafeString } from "./safe-string.js";
export { Header, SPEC_VERSION, CONTENT_TYPE, DEFAULT_MAX_BYTES } from "./envelope.js";
export type {
  AnyCloudEvent,
  CloudEventOf,
  DecodeOptions,
  DecodeResult,
  EncodedEvent,
  EventMeta,
  HeaderSource,
  IncomingMessage,
} from "./envelope.js";
export { DecodeError, DecodeErrorCode, EventsError, isDecodeError } from "./errors.js";
export { encodeHeaderValue, decodeHeaderValue } from "./header-codec.js";
export { deadLetterStream, streamNameOf } from "./streams.js";
export type { StreamSpec } from "./streams.js";
export { newEventId, derivedEventId } from "./ids.js";
export { jsonSchemas, asyncApiDocument, schemaPath, schemaId } from "./export.js";
export type {
  JsonSchema,
  AsyncApiOptions,
  AsyncApiDocument,
  AsyncApiChannel,
  AsyncApiOperation,
  AsyncApiMessage,
} from "./export.js";

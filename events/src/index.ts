export { catalog, eventNames, OrderLine, SafeString } from "./catalog.js";
export type { Catalog, EventName, EventData, Context } from "./catalog.js";
export { defineEvent, subjectOf, ceTypeOf, parseCeType } from "./define.js";
export type { EventDefinition, PastVersion } from "./define.js";
export {
  encode,
  encodeVersion,
  decode,
  Header,
  SPEC_VERSION,
  CONTENT_TYPE,
  DEFAULT_MAX_BYTES,
} from "./envelope.js";
export type {
  CloudEvent,
  EncodedEvent,
  EventMeta,
  HeaderSource,
  IncomingMessage,
  DecodeResult,
} from "./envelope.js";
export { DecodeError, DecodeErrorCode, EventsError, isDecodeError } from "./errors.js";
export { encodeHeaderValue, decodeHeaderValue } from "./header-codec.js";
export { streams, deadLetterStream, streamNameOf, subjects } from "./streams.js";
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

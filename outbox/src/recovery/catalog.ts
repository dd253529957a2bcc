/**
 * The one place the recovery primitives use the global event catalog of `@orderflow/events`: the
 * primitives that decode take a `decode` option defaulting to `catalogDecode`, and replay's default
 * streams come from `handledStreams`. A runtime generic over a user's catalog replaces these two.
 */
import { catalog, decode, streamNameOf, type EventName } from "@orderflow/events";
import type { Handlers } from "../types.js";

/** Decodes a stored message into an event, or says why it cannot. */
export type Decode = typeof decode;

export const catalogDecode: Decode = decode;

/**
 * The catalog streams (ORDERS…, no namespace) holding the events `handlers` handle.
 * @example
 * handledStreams({ "order.created": onCreated }); // ["ORDERS"]
 */
export function handledStreams(handlers: Handlers): string[] {
  return [...new Set(Object.keys(handlers).map((n) => streamNameOf(catalog[n as EventName].context)))];
}

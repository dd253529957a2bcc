import { createHash } from "node:crypto";
import { v7 as uuidv7 } from "uuid";

/** A new UUIDv7 event id: time-ordered, so ids sort roughly by creation. */
export const newEventId = (): string => uuidv7();

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
// Domain separation: these hashes must never coincide with any other use of SHA-256 on the same text.
const DOMAIN = "orderflow/derived-event-id/v7";

const sha256 = (parts: readonly string[]): Buffer =>
  // JSON framing keeps ("a/b", "c") and ("a", "b/c") apart.
  createHash("sha256")
    .update(JSON.stringify([DOMAIN, ...parts]))
    .digest();

/**
 * A deterministic UUIDv7 for an event caused by another: the same cause and purpose always yield
 * the same id, so re-running a handler (replay, rebuild) re-emits ids JetStream and the outbox
 * already know. Its 48-bit timestamp is the cause's when the cause is or starts with a UUIDv7 (the derived id
 * sorts next to its cause), otherwise a hash of the cause (still the same for every event of one
 * cause); the other 74 bits come from a SHA-256 of cause and purpose.
 *
 * Releases before this one derived UUIDv5 ids here. An event re-emitted across the upgrade (a
 * replay or `orderflow rebuild` of events first handled by the old code) gets a different id than
 * the one already published, so dedup and the rebuild's already-published suppression do not
 * recognise it: a one-time consequence of the upgrade.
 * @example
 * derivedEventId(event.id, "payment.charged"); // "0190f5d2-8a4b-7…"
 */
export function derivedEventId(causationId: string, purpose: string): string {
  const bytes = Buffer.alloc(16);
  // A cause that starts with a UUIDv7 (an event id, or the saga's `<orderId>:deadline`) lends its time.
  const lead = causationId.slice(0, 36);
  if (UUID_V7.test(lead)) bytes.write(lead.slice(0, 8) + lead.slice(9, 13), 0, "hex");
  else sha256(["timestamp", causationId]).copy(bytes, 0, 0, 6);
  sha256(["id", causationId, purpose]).copy(bytes, 6, 0, 10);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 / 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

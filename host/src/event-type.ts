import type { AnyCatalog } from "@orderflow/events";
import type { Topology } from "@orderflow/outbox";

/**
 * The `event_type` label of a message's NATS subject: the name of the catalog event published on it,
 * or `unknown` — so a stray subject under a durable's `<context>.>` filter cannot add a label value.
 */
export function eventTypeOf(catalog: AnyCatalog, topology: Topology): (subject: string) => string {
  const names = new Map(catalog.names.map((n) => [topology.subject(catalog.subject(n)), n]));
  return (subject) => names.get(subject) ?? "unknown";
}

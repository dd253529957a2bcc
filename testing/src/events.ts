/** Test helpers for services built on this runtime: publish events as another service would, read what a stream holds. */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  decodeHeaderValue,
  newEventId,
  type AnyCatalog,
  type EventDataOf,
  type EventNameOf,
} from "@orderflow/events";

/**
 * Publishes an event as another service's relay would: binary CloudEvent, Nats-Msg-Id = ce-id.
 * `msgId` overrides the Nats-Msg-Id, so that JetStream stores a second copy of an event id (a
 * redelivery JetStream's de-duplication did not catch) and the consumer's inbox must drop it.
 */
export async function publish<C extends AnyCatalog, N extends EventNameOf<C>>(
  js: JetStreamClient,
  catalog: C,
  name: N,
  data: EventDataOf<C, N>,
  meta: { id?: string; msgId?: string; source?: string; correlationId: string; traceparent?: string },
): Promise<string> {
  const id = meta.id ?? newEventId();
  const e = catalog.encode(name, data, {
    id,
    source: meta.source ?? "/orderflow/test",
    time: new Date(),
    correlationId: meta.correlationId,
    ...(meta.traceparent ? { traceparent: meta.traceparent } : {}),
  });
  const h = natsHeaders();
  for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
  await js.publish(e.subject, e.data, { headers: h, msgID: meta.msgId ?? id });
  return id;
}

export interface StoredEvent {
  readonly seq: number;
  readonly name: string;
  readonly id: string;
  readonly subject: string;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  readonly traceparent: string | undefined;
  readonly data: Record<string, unknown>;
}

/** Every event of `stream` whose ce-subject is `aggregate`, in stream order; names as `catalog` knows them. */
export async function eventsOf(
  jsm: JetStreamManager,
  catalog: AnyCatalog,
  stream: string,
  aggregate: string,
): Promise<StoredEvent[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredEvent[] = [];
  if (!state.messages) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    if (decodeHeaderValue(m.header.get("ce-subject")) !== aggregate) continue;
    const causation = m.header.get("ce-causationid");
    out.push({
      seq,
      name: catalog.resolveType(m.header.get("ce-type"))?.def.name ?? "?",
      id: m.header.get("ce-id"),
      subject: m.subject,
      correlationId: decodeHeaderValue(m.header.get("ce-correlationid")) ?? "",
      causationId: causation ? decodeHeaderValue(causation) : undefined,
      traceparent: m.header.get("traceparent") || undefined,
      data: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
    });
  }
  return out;
}

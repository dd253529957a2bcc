import { v5 as uuidv5, v7 as uuidv7 } from "uuid";

/** A new UUIDv7 event id: time-ordered, so ids sort roughly by creation. */
export const newEventId = (): string => uuidv7();

const NAMESPACE = "9b1f4a52-3c0e-4f4e-9d1a-6f0e2b7c8a11";

/**
 * A deterministic id for an event caused by another: the same cause and purpose always yield the
 * same id, so re-running a handler (replay, rebuild) re-emits ids JetStream and the outbox already know.
 */
export const derivedEventId = (causationId: string, purpose: string): string =>
  uuidv5(`${causationId}/${purpose}`, NAMESPACE);

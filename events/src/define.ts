import type { z } from "zod";

/** An older version of an event and how to lift its data one version up. */
export interface PastVersion {
  readonly version: number;
  readonly schema: z.ZodType;
  /** Converts data of this version into data of `version + 1`. */
  readonly upcast: (data: unknown) => unknown;
}

export interface EventDefinition<
  Name extends string = string,
  Schema extends z.ZodType = z.ZodType,
  Context extends string = string,
> {
  /** Logical name, e.g. `order.created`. */
  readonly name: Name;
  /** Bounded context; one stream per context. */
  readonly context: Context;
  readonly aggregate: string;
  readonly event: string;
  /** Current version: what `encode` writes and what handlers receive. */
  readonly version: number;
  readonly schema: Schema;
  /** Field of the data whose value becomes `ce-subject` (the aggregate id). */
  readonly key: string;
  /** Oldest first; each upcasts to the next, the last to `version`. */
  readonly past: readonly PastVersion[];
}

/**
 * Declares one event. Its subject (`<context>.<aggregate>.<event>`) and CloudEvents type
 * (`<catalog prefix>.<name>.v<version>`) are derived, never written by hand.
 * @example
 * const shipmentRequested = defineEvent({
 *   name: "shipment.requested", context: "shipping", aggregate: "shipment", event: "requested",
 *   schema: z.object({ orderId: z.string() }), key: "orderId",
 * });
 */
export function defineEvent<
  const Name extends string,
  Schema extends z.ZodType,
  const Context extends string,
>(def: {
  name: Name;
  context: Context;
  aggregate: string;
  event: string;
  version?: number;
  schema: Schema;
  key: keyof z.infer<Schema> & string;
  past?: readonly PastVersion[];
}): EventDefinition<Name, Schema, Context> {
  const version = def.version ?? 1;
  const past = def.past ?? [];
  past.forEach((p, i) => {
    if (p.version !== version - past.length + i)
      throw new Error(`${def.name}: past versions must be contiguous`);
  });
  return { ...def, version, past };
}

export const subjectOf = (def: Pick<EventDefinition, "context" | "aggregate" | "event">): string =>
  `${def.context}.${def.aggregate}.${def.event}`;

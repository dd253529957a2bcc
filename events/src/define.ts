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

/** Declares one event. Subject and CloudEvents type are derived, never written by hand. */
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

export const ceTypeOf = (name: string, version: number): string => `orderflow.${name}.v${version}`;

// Version 0 parses, so that decode can call it unsupported rather than malformed.
const CE_TYPE = /^orderflow\.([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)\.v(0|[1-9][0-9]{0,8})$/;

/** Splits `orderflow.<name>.v<version>`; undefined for any other form. */
export function parseCeType(ceType: string): { name: string; version: number } | undefined {
  const m = CE_TYPE.exec(ceType);
  return m ? { name: m[1]!, version: Number(m[2]) } : undefined;
}

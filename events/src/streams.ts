import { catalog, type Context } from "./catalog.js";
import { subjectOf } from "./define.js";

export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
}

export const streamNameOf = (context: string): string => context.toUpperCase();

/** One stream per bounded context, derived from the catalog. */
export const streams: readonly StreamSpec[] = [...new Set(Object.values(catalog).map((d) => d.context))].map(
  (context: Context) => ({ name: streamNameOf(context), subjects: [`${context}.>`] }),
);

/** Dead letters from every consumer: `dlq.<consumer>.<original subject>`. */
export const deadLetterStream: StreamSpec = { name: "DLQ", subjects: ["dlq.>"] };

export const subjects: Readonly<Record<keyof typeof catalog, string>> = Object.fromEntries(
  Object.values(catalog).map((d) => [d.name, subjectOf(d)]),
) as Record<keyof typeof catalog, string>;

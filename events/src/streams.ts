export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
}

/** The stream of a bounded context: its name in upper case (`orders` → `ORDERS`). */
export const streamNameOf = (context: string): string => context.toUpperCase();

/** Dead letters from every consumer: `dlq.<consumer>.<original subject>`. */
export const deadLetterStream: StreamSpec = { name: "DLQ", subjects: ["dlq.>"] };

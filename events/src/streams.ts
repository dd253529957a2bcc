export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
}

/** The stream of a bounded context: its name in upper case (`orders` → `ORDERS`). */
export const streamNameOf = (context: string): string => context.toUpperCase();

/**
 * Dead letters (`dlq.<consumer>.<subject>`) and redriven ones (`redrive.<consumer>.<subject>`): a
 * redrive goes to the one consumer that failed, never back into the business stream.
 */
export const deadLetterStream: StreamSpec = { name: "DLQ", subjects: ["dlq.>", "redrive.>"] };

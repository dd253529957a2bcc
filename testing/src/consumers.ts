import type { JetStreamManager } from "@nats-io/jetstream";
import { waitFor } from "./wait.js";

/**
 * Waits until durable `consumer` of `stream` has nothing pending and nothing unacknowledged: every
 * message published before the call has been handled (or dead-lettered). Assert "nothing doubled"
 * after this, not after the first sign of progress.
 */
export async function consumerSettled(
  jsm: Pick<JetStreamManager, "consumers">,
  stream: string,
  consumer: string,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(
    `consumer ${consumer} of ${stream} to settle`,
    async () => {
      const info = await jsm.consumers.info(stream, consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs },
  );
}

import { setTimeout as sleep } from "node:timers/promises";
import { InfraError } from "./errors.js";

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`.
 * The only sanctioned way to wait in this repo: on a condition, with a deadline.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new InfraError("TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

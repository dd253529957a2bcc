import { waitFor } from "@orderflow/testing";
import { CliError, oneLine } from "../errors.js";

const READY_TIMEOUT_MS = 30_000;

/**
 * Polls each service's `GET /readyz` until every one answers 200; stops early when `signal`
 * aborts. Throws FAILED naming those not ready after 30 s, with their last answer.
 */
export async function waitReady(
  services: readonly { readonly name: string; readonly url: string }[],
  signal: AbortSignal,
): Promise<void> {
  const pending = new Map(services.map((s) => [s.name, { url: s.url, last: "no answer yet" }]));
  try {
    await waitFor(
      "services to be ready",
      async () => {
        await Promise.all(
          [...pending].map(async ([name, state]) => {
            try {
              const res = await fetch(`${state.url}/readyz`, { signal: AbortSignal.timeout(2000) });
              const body = await res.text();
              if (res.status === 200) pending.delete(name);
              else state.last = `${res.status} ${body.slice(0, 200)}`;
            } catch (err) {
              state.last = oneLine(err);
            }
          }),
        );
        return pending.size === 0 || signal.aborted;
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch {
    const names = [...pending].map(([name, s]) => `${name} (GET /readyz: ${s.last})`).join(", ");
    throw new CliError("FAILED", `not ready after ${READY_TIMEOUT_MS / 1000} s: ${names}`);
  }
}

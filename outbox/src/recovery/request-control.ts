import type { NatsConnection } from "@nats-io/nats-core";
import { controlSubject, type Topology } from "../topology.js";

/**
 * Asks a running service to pause (stop consuming, drain its outbox) or resume over
 * `controlSubject`. Returns the service's answer ("paused", "running"), or "not running" when no
 * instance listens.
 */
export async function requestControl(
  nc: Pick<NatsConnection, "request">,
  topology: Topology,
  service: string,
  command: "pause" | "resume",
): Promise<string> {
  try {
    const reply = await nc.request(controlSubject(topology, service), command, { timeout: 30_000 });
    return reply.string();
  } catch (err) {
    if (
      /no responders|503/i.test(String((err as Error).message)) ||
      (err as { code?: string }).code === "503"
    ) {
      return "not running";
    }
    throw err;
  }
}

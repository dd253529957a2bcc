import type { NatsConnection } from "@nats-io/transport-node";
import { controlSubject, type Topology } from "@orderflow/outbox";

/**
 * Asks a running service to pause (stop consuming, drain its outbox) or resume. Returns the
 * service's answer, or "not running" when no instance listens.
 */
export async function control(
  nc: NatsConnection,
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

import { headers, type NatsConnection } from "@nats-io/nats-core";
import { controlSubject, type Topology } from "../topology.js";

/**
 * The database the caller works on, sent with a control request: an instance on another database
 * refuses instead of pausing (a rebuild aimed at the wrong database must not pause the real one and
 * report success).
 */
export const CONTROL_DATABASE_HEADER = "Orderflow-Database";

/**
 * Asks a running service to pause (stop consuming, drain its outbox) or resume over
 * `controlSubject`. Returns the service's answer ("paused", "running", or "refused: …"), or "not
 * running" when no instance listens.
 */
export async function requestControl(
  nc: Pick<NatsConnection, "request">,
  topology: Topology,
  service: string,
  command: "pause" | "resume",
  database?: string,
): Promise<string> {
  const h = headers();
  if (database) h.set(CONTROL_DATABASE_HEADER, database);
  try {
    const reply = await nc.request(controlSubject(topology, service), command, {
      timeout: 30_000,
      ...(database ? { headers: h } : {}),
    });
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

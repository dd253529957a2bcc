// `orderflow up --instances N`: N processes of every service, instance i on the service's port + 100·(i−1).
import { CliError } from "../errors.js";
import type { ServicePlan } from "./up-config.js";

export const MAX_INSTANCES = 4;
/** Instance i listens on the service's port + PORT_STEP·(i−1). */
export const PORT_STEP = 100;

/**
 * What the services get with more than one instance: a 2 s ack wait (unless CONSUMER_ACK_WAIT_MS is
 * set), so what a killed instance held goes to the other within 2 s of its last keep-alive rather
 * than the runtime's 5 s. Shorter is not safer: a process starved of CPU for longer than the ack wait
 * less its keep-alive period has its held messages redelivered meanwhile (harmless: the inbox drops
 * them, but it is work done twice).
 */
export function instancesEnv(count: number, env: NodeJS.ProcessEnv): Record<string, string> {
  return count > 1 && env.CONSUMER_ACK_WAIT_MS === undefined ? { CONSUMER_ACK_WAIT_MS: "2000" } : {};
}

/** The value of `--instances`; undefined is one. Throws BAD_CONFIG with one line. */
export function parseInstances(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_INSTANCES)
    throw new CliError(
      "BAD_CONFIG",
      `--instances: must be an integer from 1 to ${MAX_INSTANCES} (got "${value}")`,
    );
  return n;
}

/**
 * Every process to run: each service's plan `count` times, instance i on its port + 100·(i−1). Throws
 * BAD_CONFIG when such a port is past 65535 or is another service's.
 */
export function instancePlans(plans: readonly ServicePlan[], count: number): ServicePlan[] {
  const all: ServicePlan[] = [];
  for (let instance = 1; instance <= count; instance++) {
    for (const plan of plans) {
      const port = plan.port + PORT_STEP * (instance - 1);
      const name = processName({ ...plan, instance });
      if (port > 65535)
        throw new CliError("BAD_CONFIG", `--instances: ${name} would listen on port ${port} (past 65535)`);
      const taken = all.find((p) => p.port === port);
      if (taken)
        throw new CliError(
          "BAD_CONFIG",
          `--instances: ${name} would listen on port ${port} (${plan.portVar} + ${port - plan.port}), which is ${processName(taken)}'s`,
        );
      all.push(instance === 1 ? plan : { ...plan, port, instance });
    }
  }
  return all;
}

/** A service's process: its name, with `-<i>` from the second instance on (logs, orderflow.pid, messages). */
export function processName(plan: Pick<ServicePlan, "service" | "instance">): string {
  const i = plan.instance ?? 1;
  return i === 1 ? plan.service.name : `${plan.service.name}-${i}`;
}

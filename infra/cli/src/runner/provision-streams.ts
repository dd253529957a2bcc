import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { StreamSpec } from "@orderflow/events";
import { deadLetterLimitsOf, serviceStreams, type NatsTlsFiles } from "@orderflow/host";
import { ensureStreams, Topology, type ProvisionAction } from "@orderflow/outbox";
import { CliError, oneLine } from "../errors.js";
import { operatorConnectOptions } from "../nats-operator.js";
import type { AnyDefinition } from "../system/load-system.js";
import type { NatsIdentity } from "./credentials-file.js";

/**
 * Every stream the system's services provision, and the dead-letter stream, created or brought in
 * line as the operator before the services start. A service's user may create the streams it reads
 * but change only its own (see `natsPermissions`): a stream of another context, or the dead
 * letters, whose configuration the code changed would otherwise stop the services that read it
 * until the operator applied the change.
 */
export async function provisionStreams(opts: {
  readonly natsUrl: string;
  /** Undefined on a NATS_URL given without ORDERFLOW_NATS_NKEY_SEED: anonymous. */
  readonly operator: NatsIdentity | undefined;
  readonly definitions: readonly AnyDefinition[];
  readonly namespace: string;
  readonly replicas: number;
  /** The operator's TLS files on a nats-server that requires TLS; none: plain. */
  readonly tls?: NatsTlsFiles;
  /** The services' environment: the dead-letter stream's limits are read from it as they read them. */
  readonly env: Record<string, string | undefined>;
}): Promise<ProvisionAction[]> {
  let deadLetters;
  try {
    deadLetters = deadLetterLimitsOf(opts.env);
  } catch (err) {
    throw new CliError("BAD_CONFIG", oneLine(err), { cause: err });
  }
  const streams = new Map<string, StreamSpec>();
  for (const def of opts.definitions)
    for (const s of serviceStreams(def)) if (!streams.has(s.name)) streams.set(s.name, s);
  let nc;
  try {
    nc = await connect({
      servers: opts.natsUrl,
      timeout: 5000,
      reconnect: false,
      name: "orderflow-up",
      ...operatorConnectOptions(opts.operator, opts.namespace),
      ...(opts.tls ? { tls: { ...opts.tls } } : {}),
    });
  } catch (err) {
    throw new CliError("FAILED", `cannot connect to NATS as the operator: ${oneLine(err)}`, { cause: err });
  }
  try {
    return await ensureStreams(await jetstreamManager(nc), {
      topology: new Topology(opts.namespace),
      replicas: opts.replicas,
      streams: [...streams.values()],
      deadLetters,
    });
  } catch (err) {
    throw new CliError("FAILED", `provisioning the streams as the operator failed: ${oneLine(err)}`, {
      cause: err,
    });
  } finally {
    await nc.close().catch(() => {});
  }
}

import {
  connect,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
} from "@nats-io/transport-node";
import { Topology } from "@orderflow/outbox";
import { natsServers, type NatsCredentials, type NatsTlsFiles } from "./config.js";

/**
 * The inbox prefix of a NATS identity (a service's name, or the operator's): replies to its requests
 * (JetStream API answers, PubAcks, pulled messages) arrive under `<prefix>.>`, so its permissions can
 * let it read only its own. `_INBOX_<identity>`, namespaced like every subject (`<ns>._INBOX_<identity>`).
 */
export const natsInboxPrefix = (identity: string, namespace = ""): string =>
  new Topology(namespace).subject(`_INBOX_${identity}`);

export interface NatsConnectOptions {
  /** `NATS_NAMESPACE`: part of the inbox prefix. */
  readonly namespace?: string;
  /** How the service proves its identity, e.g. `nkeyAuthenticator(seed)`; none: anonymous. */
  readonly authenticator?: Authenticator;
  /** TLS files (`NATS_TLS_CA`, `NATS_TLS_CERT`, `NATS_TLS_KEY`); none: TLS only if the server requires it. */
  readonly tls?: NatsTlsFiles;
}

/** The service's NATS connection: reconnects forever; its inbox is `natsInboxPrefix(service)`. */
export function connectNats(
  servers: string,
  service: string,
  opts: NatsConnectOptions = {},
): Promise<NatsConnection> {
  return connect({
    servers: natsServers(servers),
    name: `orderflow-${service}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Otherwise every publish and pull request builds two Error objects up front for their
    // stack traces: a third of the relay's CPU in the outbox benchmark.
    noAsyncTraces: true,
    inboxPrefix: natsInboxPrefix(service, opts.namespace),
    ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
    ...(opts.tls ? { tls: { ...opts.tls } } : {}),
  });
}

/** The authenticator for credentials from the environment (`NATS_NKEY_SEED`, `NATS_USER`…); none: anonymous. */
export function natsAuthenticator(credentials: NatsCredentials | undefined): Authenticator | undefined {
  if (!credentials) return undefined;
  return credentials.kind === "nkey"
    ? nkeyAuthenticator(new TextEncoder().encode(credentials.seed))
    : usernamePasswordAuthenticator(credentials.user, credentials.password);
}

import { readFileSync } from "node:fs";
import {
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
  type ConnectionOptions,
} from "@nats-io/transport-node";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { CliError } from "./errors.js";
import type { NatsIdentity } from "./runner/credentials-file.js";

/** The operator's NKey seed, for every `orderflow` command and for `orderflow up` on a NATS_URL. */
export const OPERATOR_SEED_VAR = "ORDERFLOW_NATS_NKEY_SEED";

const USER_SEED = /^SU[A-Z2-7]{56}$/;

/**
 * The operator's seed from `ORDERFLOW_NATS_NKEY_SEED` or the file `ORDERFLOW_NATS_NKEY_SEED_FILE`
 * names (both set is an error); undefined when neither is. A bad one is BAD_CONFIG naming the
 * variable, never showing the value.
 */
export function operatorSeedFromEnv(env: Record<string, string | undefined>): string | undefined {
  const direct = env[OPERATOR_SEED_VAR] || undefined;
  const file = env[`${OPERATOR_SEED_VAR}_FILE`] || undefined;
  if (direct !== undefined && file !== undefined)
    throw new CliError(
      "BAD_CONFIG",
      `${OPERATOR_SEED_VAR}_FILE: ${OPERATOR_SEED_VAR} is set too; set one of them`,
    );
  let seed = direct;
  if (file !== undefined) {
    try {
      seed = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw new CliError(
        "BAD_CONFIG",
        `${OPERATOR_SEED_VAR}_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  if (seed === undefined) return undefined;
  if (!USER_SEED.test(seed))
    throw new CliError(
      "BAD_CONFIG",
      `${OPERATOR_SEED_VAR}${file === undefined ? "" : "_FILE"}: must be an NKey user seed (58 characters starting with SU)`,
    );
  return seed;
}

/**
 * How the operator connects: its inbox prefix (`natsInboxPrefix(OPERATOR_IDENTITY, namespace)`,
 * the only replies its user may read) and, given its identity, its NKey (or user and password).
 */
export function operatorConnectOptions(
  identity: NatsIdentity | undefined,
  namespace: string,
): Pick<ConnectionOptions, "inboxPrefix" | "authenticator"> {
  const inboxPrefix = natsInboxPrefix(OPERATOR_IDENTITY, namespace);
  if (identity === undefined) return { inboxPrefix };
  return {
    inboxPrefix,
    authenticator:
      "nkeySeed" in identity
        ? nkeyAuthenticator(new TextEncoder().encode(identity.nkeySeed))
        : usernamePasswordAuthenticator(identity.user, identity.password),
  };
}

/** Whether a failed connection was refused for its credentials (rather than unreachable). */
export function isAuthorizationError(err: unknown): boolean {
  return /authoriz|authenticat/i.test(err instanceof Error ? `${err.name} ${err.message}` : String(err));
}

import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { natsPermissions, operatorPermissions, type NatsPermissions } from "@orderflow/host";
import { isOutboxError } from "@orderflow/outbox";
import { CliError } from "../errors.js";
import type { AnyDefinition } from "../system/load-system.js";
import type { NatsIdentities, NatsIdentity } from "./credentials-file.js";

/** The nats-server configuration `orderflow up` writes at every start, in `<data dir>/nats/`. */
export const NATS_AUTH_CONFIG = "auth.conf";
/** Each service's secret, one file per service (`<name>.nk`, `<name>.password`), mode 0600. */
export const NATS_SECRETS_DIR = "secrets";

export interface NatsAuth {
  /** The nats-server configuration file (`-c`). */
  readonly configFile: string;
  /** What a service's environment gets to connect as its user: `NATS_NKEY_SEED_FILE`, or `NATS_USER` + `NATS_PASSWORD_FILE`. */
  readonly env: (service: string) => Record<string, string>;
}

/**
 * Writes the nats-server configuration of a run: one user per service holding
 * `natsPermissions(definition)` and the operator's holding `operatorPermissions(definitions)`, with no
 * `no_auth_user`, so a connection without credentials is refused. Written afresh at every start,
 * so that the permissions follow the code. Each service's seed (or password) goes to a file of its
 * own, which its environment names (`NATS_NKEY_SEED_FILE`): the secret is never in a process's
 * environment.
 */
export function writeNatsAuth(opts: {
  readonly dataDir: string;
  readonly definitions: readonly AnyDefinition[];
  readonly namespace: string;
  readonly identities: NatsIdentities;
  /** TLS required of every client, with a certificate from `ca` (see `natsTlsConfig`); none: plain. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}): NatsAuth {
  const { dataDir, definitions, namespace, identities, tls } = opts;
  // Derived first: a definition the permissions cannot be derived from changes nothing.
  const config = {
    ...natsAuthConfig({ definitions, namespace, identities }),
    ...(tls ? natsTlsConfig(tls) : {}),
  };
  const natsDir = join(dataDir, "nats");
  const secretsDir = join(natsDir, NATS_SECRETS_DIR);
  mkdirSync(natsDir, { recursive: true });
  rmSync(secretsDir, { recursive: true, force: true });
  mkdirSync(secretsDir, { mode: 0o700 });
  chmodSync(secretsDir, 0o700);

  const configFile = join(natsDir, NATS_AUTH_CONFIG);
  // JSON is valid nats-server configuration.
  writeSecret(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const env = new Map<string, Record<string, string>>();
  for (const def of definitions) {
    const identity = identities.services[def.name]!;
    if ("nkeySeed" in identity) {
      const file = join(secretsDir, `${def.name}.nk`);
      writeSecret(file, `${identity.nkeySeed}\n`);
      env.set(def.name, { NATS_NKEY_SEED_FILE: file });
    } else {
      const file = join(secretsDir, `${def.name}.password`);
      writeSecret(file, `${identity.password}\n`);
      env.set(def.name, { NATS_USER: identity.user, NATS_PASSWORD_FILE: file });
    }
  }
  return { configFile, env: (service) => env.get(service) ?? {} };
}

/**
 * The nats-server configuration block of a system's identities: `{authorization: {users}}`, one
 * user per service with `natsPermissions(definition)` and the operator's with
 * `operatorPermissions(definitions)`, public keys only, no `no_auth_user`. JSON is valid nats-server
 * configuration.
 */
export function natsAuthConfig(opts: {
  readonly definitions: readonly AnyDefinition[];
  readonly namespace: string;
  readonly identities: NatsIdentities;
}): { authorization: { users: object[] } } {
  const { definitions, namespace, identities } = opts;
  const derive = (what: string, fn: () => NatsPermissions): NatsPermissions => {
    try {
      return fn();
    } catch (err) {
      if (isOutboxError(err) && err.code === "BAD_CONFIG")
        throw new CliError("BAD_CONFIG", `NATS permissions of ${what}: ${err.message}`, { cause: err });
      throw err;
    }
  };
  const users = [
    ...definitions.map((def) =>
      user(
        identities.services[def.name]!,
        derive(def.name, () => natsPermissions(def, { namespace })),
      ),
    ),
    user(
      identities.operator,
      derive("the operator", () => operatorPermissions(definitions, { namespace })),
    ),
  ];
  return { authorization: { users } };
}

/**
 * The nats-server `tls` block of `orderflow up --tls`: TLS required (a plain client is refused), and
 * `verify: true`, a client certificate signed by `ca` too (mutual TLS). The certificate proves the
 * client belongs to the run; its NKey still says which user it is (nats-server's `verify_and_map`
 * maps certificates to user names, not to NKey users).
 */
export function natsTlsConfig(tls: { readonly ca: string; readonly cert: string; readonly key: string }): {
  tls: object;
} {
  // timeout: seconds for the handshake (nats-server's default, 0.5 s, is short on a busy machine).
  return { tls: { cert_file: tls.cert, key_file: tls.key, ca_file: tls.ca, verify: true, timeout: 5 } };
}

/** A user of the configuration: its public key (never its seed), or its user and password. */
function user(identity: NatsIdentity, permissions: NatsPermissions): object {
  return "nkeySeed" in identity
    ? { nkey: nkeys.fromSeed(new TextEncoder().encode(identity.nkeySeed)).getPublicKey(), permissions }
    : { user: identity.user, password: identity.password, permissions };
}

function writeSecret(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The variables of a NATS identity the runner replaces with each service's own. */
export const NATS_IDENTITY_VARS = [
  "NATS_NKEY_SEED",
  "NATS_NKEY_SEED_FILE",
  "NATS_USER",
  "NATS_USER_FILE",
  "NATS_PASSWORD",
  "NATS_PASSWORD_FILE",
] as const;

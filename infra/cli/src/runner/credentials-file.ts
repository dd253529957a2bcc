import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { CliError } from "../errors.js";

/**
 * `<data dir>/credentials.json`: the secrets of a local run, by section (`http`, `nats`, `postgres`),
 * mode 0600. Written only through `writeCredentials`, which keeps the other sections.
 */
export const CREDENTIALS_FILE = "credentials.json";

/** One NATS user: an NKey seed (`SU…`), or a user and password. */
export type NatsIdentity =
  { readonly nkeySeed: string } | { readonly user: string; readonly password: string };

/** The `nats` section: one identity per service, by name, and the operator's under `operator`. */
export const NATS_OPERATOR_ENTRY = "operator";

export interface Credentials {
  readonly http?: { readonly operatorToken: string };
  readonly nats?: Readonly<Record<string, NatsIdentity>>;
  /** Each service's database URL with its own role, by service name, and the operator's under `@operator`. */
  readonly postgres?: Readonly<Record<string, string>>;
  readonly [section: string]: unknown;
}

/** The file's content; `{}` when it does not exist. A file that is not a JSON object throws. */
export function readCredentials(dataDir: string): Credentials {
  const path = join(dataDir, CREDENTIALS_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`${path} is not a JSON object`);
  return parsed as Credentials;
}

/** Merges `sections` into the file (replacing those sections only), atomically, mode 0600. */
export function writeCredentials(dataDir: string, sections: Partial<Credentials>): Credentials {
  const merged = { ...readCredentials(dataDir), ...sections };
  const path = join(dataDir, CREDENTIALS_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return merged;
}

/** The operator token of the run: the one kept in the file, or a new one (32 random bytes, base64url) saved there. */
export function ensureOperatorToken(dataDir: string): string {
  const kept = readCredentials(dataDir).http?.operatorToken;
  if (typeof kept === "string" && kept.length > 0) return kept;
  const operatorToken = randomBytes(32).toString("base64url");
  writeCredentials(dataDir, { http: { operatorToken } });
  return operatorToken;
}

const USER_SEED = /^SU[A-Z2-7]{56}$/;

/** Whether `value` is a usable identity of the `nats` section. */
export function isNatsIdentity(value: unknown): value is NatsIdentity {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.nkeySeed === "string") return USER_SEED.test(v.nkeySeed);
  return typeof v.user === "string" && v.user !== "" && typeof v.password === "string" && v.password !== "";
}

export interface NatsIdentities {
  /** By service name. */
  readonly services: Readonly<Record<string, NatsIdentity>>;
  readonly operator: NatsIdentity;
}

/**
 * The NATS identities of a run: one per service and the operator's. Those kept in the file are
 * reused; a missing one (a service new to the config, or after its entry was deleted to rotate it)
 * gets a new NKey user (`nkeys.createUser()`), saved there. Entries of services no longer in the
 * config are kept. An entry that is neither `{nkeySeed}` nor `{user, password}` is an error naming
 * it, never overwritten.
 */
export function ensureNatsIdentities(dataDir: string, services: readonly string[]): NatsIdentities {
  if (services.includes(NATS_OPERATOR_ENTRY))
    throw new CliError(
      "BAD_CONFIG",
      `a service named "${NATS_OPERATOR_ENTRY}" would share the operator's entry in ${CREDENTIALS_FILE}`,
    );
  const kept: unknown = readCredentials(dataDir).nats ?? {};
  if (typeof kept !== "object" || kept === null || Array.isArray(kept))
    throw new CliError("BAD_CONFIG", `${join(dataDir, CREDENTIALS_FILE)}: "nats" is not an object`);
  const section: Record<string, unknown> = { ...kept };
  let added = false;
  for (const name of [...services, NATS_OPERATOR_ENTRY]) {
    const entry = section[name];
    if (entry === undefined) {
      section[name] = { nkeySeed: new TextDecoder().decode(nkeys.createUser().getSeed()) };
      added = true;
    } else if (!isNatsIdentity(entry)) {
      throw new CliError(
        "BAD_CONFIG",
        `${join(dataDir, CREDENTIALS_FILE)}: nats.${name} is neither {"nkeySeed": "SU…"} nor {"user", "password"}; fix or delete it`,
      );
    }
  }
  if (added) writeCredentials(dataDir, { nats: section as Record<string, NatsIdentity> });
  const identities = section as Record<string, NatsIdentity>;
  return {
    services: Object.fromEntries(services.map((name) => [name, identities[name]!])),
    operator: identities[NATS_OPERATOR_ENTRY]!,
  };
}

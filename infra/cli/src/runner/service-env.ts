// What each service's environment holds under `orderflow up`: the runner's, minus the secrets that
// are not the service's, plus its own database role and NATS identity.
import { OPERATOR_SEED_VAR } from "../nats-operator.js";
import { NATS_IDENTITY_VARS } from "./nats-auth.js";
import type { ServicePlan } from "./up-config.js";

/**
 * The runner's environment as the services get it: OPERATOR_TOKEN_FILE was read already (they get
 * OPERATOR_TOKEN, and both would be an error); the operator's NATS seed is not theirs; on a
 * nats-server we run, each gets its own NATS identity (and with --tls its own certificate) instead of any
 * given to the runner.
 */
export function withoutSecrets(
  env: NodeJS.ProcessEnv,
  ownNatsIdentities: boolean,
  ownNatsTls: boolean,
): NodeJS.ProcessEnv {
  const rest = { ...env };
  const drop = [
    "OPERATOR_TOKEN_FILE",
    OPERATOR_SEED_VAR,
    `${OPERATOR_SEED_VAR}_FILE`,
    ...(ownNatsIdentities ? NATS_IDENTITY_VARS : []),
    ...(ownNatsTls ? ["NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY"] : []),
  ];
  for (const name of drop) delete rest[name];
  return rest;
}

/**
 * A service with a role of its own connects with its URL only: DATABASE_URL (the server's admin) and
 * the other services' `<NAME>_DATABASE_URL` (and their `_FILE`s) are not passed on to it.
 */
export function ownDatabaseEnv(
  plan: ServicePlan,
  plans: readonly ServicePlan[],
  urls: ReadonlyMap<string, string>,
): NodeJS.ProcessEnv {
  const own = urls.get(plan.service.name);
  if (own === undefined) return {};
  const env: NodeJS.ProcessEnv = { DATABASE_URL: own, DATABASE_URL_FILE: undefined };
  for (const p of plans) {
    const variable = `${p.service.name.toUpperCase()}_DATABASE_URL`;
    env[variable] = undefined;
    env[`${variable}_FILE`] = undefined;
  }
  env[`${plan.service.name.toUpperCase()}_DATABASE_URL`] = own;
  return env;
}

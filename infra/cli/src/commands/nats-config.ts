import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { baseConfigShape } from "@orderflow/host";
import { CliError } from "../errors.js";
import { CREDENTIALS_FILE, ensureNatsIdentities } from "../runner/credentials-file.js";
import { natsAuthConfig, writeNatsAuth } from "../runner/nats-auth.js";
import { ensureTlsCertificates } from "../runner/tls-certs.js";
import { DATA_DIR } from "../system/find-config.js";
import { loadSystem } from "../system/load-system.js";

export interface NatsConfigOptions {
  /** Whose credentials.json holds the keys; default `.data/` beside the system's config. */
  readonly dataDir?: string;
  readonly json?: boolean;
  /**
   * Also write `<data dir>/nats/auth.conf` and each service's seed to
   * `<data dir>/nats/secrets/<service>.nk`, as `orderflow up` does (compose's one-shot `nats-auth`).
   */
  readonly write?: boolean;
  /**
   * With `write`: also the certificates of mutual TLS under `<data dir>/tls/` (see
   * `ensureTlsCertificates`; made once, reused after), and the `tls` block (`verify: true`) in auth.conf.
   */
  readonly tls?: boolean;
  /** Host names the server certificate names besides 127.0.0.1 and localhost (compose: nats, postgres). */
  readonly tlsHost?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (text: string) => void;
}

/**
 * `orderflow nats-config`: the nats-server `authorization` block for the system's config, for a NATS
 * you run yourself: one NKey user per service with `natsPermissions`, the operator's with
 * `operatorPermissions` (NATS_NAMESPACE applies). The keys are those of `<data dir>/credentials.json`
 * (`nats`), generated and saved there where missing, as `orderflow up` does; the output holds public
 * keys only. `--json`: the block alone, as JSON (also valid nats-server configuration). `--write`:
 * also the files `orderflow up` writes (the configuration and one seed file per service).
 */
export async function natsConfigCommand(opts: NatsConfigOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((text: string) => process.stdout.write(text));
  const namespace = baseConfigShape.NATS_NAMESPACE.safeParse(env.NATS_NAMESPACE || undefined);
  if (!namespace.success)
    throw new CliError("BAD_CONFIG", `NATS_NAMESPACE: ${namespace.error.issues[0]?.message ?? "invalid"}`);
  const system = await loadSystem({ env });
  const dataDir = opts.dataDir === undefined ? join(system.root, DATA_DIR) : resolve(opts.dataDir);
  const definitions = system.services.map((s) => s.definition);
  mkdirSync(dataDir, { recursive: true });
  const identities = ensureNatsIdentities(
    dataDir,
    definitions.map((d) => d.name),
  );
  const config = natsAuthConfig({ definitions, namespace: namespace.data, identities });
  if (opts.tls && !opts.write) throw new CliError("BAD_CONFIG", "--tls: only with --write");
  const tls = opts.tls
    ? await ensureTlsCertificates(
        dataDir,
        definitions.map((d) => d.name),
        { serverNames: opts.tlsHost ?? [] },
      )
    : undefined;
  if (opts.write)
    writeNatsAuth({
      dataDir,
      definitions,
      namespace: namespace.data,
      identities,
      ...(tls ? { tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key } } : {}),
    });
  const json = JSON.stringify(config, null, 2);
  if (opts.json) {
    out(`${json}\n`);
    return 0;
  }
  const names = [...definitions.map((d) => d.name), "operator"].join(", ");
  out(
    [
      `# nats-server users of ${names}: pass this file to nats-server with -c (or include it).`,
      `# Their seeds: ${join(dataDir, CREDENTIALS_FILE)} (nats.<service>.nkeySeed, nats.operator.nkeySeed);`,
      "# give each service its own as NATS_NKEY_SEED_FILE, the orderflow command ORDERFLOW_NATS_NKEY_SEED.",
      json,
      "",
    ].join("\n"),
  );
  return 0;
}

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { definition as billing } from "@orderflow/billing";
import { natsPermissions, operatorPermissions } from "@orderflow/host";
import { definition as inventory } from "@orderflow/inventory";
import { afterEach, describe, expect, it } from "vitest";
import { ensureNatsIdentities } from "./credentials-file.js";
import { writeNatsAuth } from "./nats-auth.js";

describe("writeNatsAuth: the nats-server users of a run", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("one NKey user per service with its derived permissions and the operator's, nobody anonymous; seeds in files of their own", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "orderflow-nats-auth-"));
    dirs.push(dataDir);
    const identities = ensureNatsIdentities(dataDir, ["inventory", "billing"]);
    const seedOf = (name: "inventory" | "billing") => {
      const id = identities.services[name]!;
      if (!("nkeySeed" in id)) throw new Error("expected an NKey");
      return id.nkeySeed;
    };
    const publicKey = (seed: string) => nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
    const auth = writeNatsAuth({ dataDir, definitions: [inventory, billing], namespace: "t1", identities });

    expect(auth.configFile).toBe(join(dataDir, "nats", "auth.conf"));
    expect(statSync(auth.configFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(auth.configFile, "utf8");
    const conf = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(conf)).toEqual(["authorization"]);
    expect(conf.authorization).toEqual({
      users: [
        {
          nkey: publicKey(seedOf("inventory")),
          permissions: natsPermissions(inventory, { namespace: "t1" }),
        },
        { nkey: publicKey(seedOf("billing")), permissions: natsPermissions(billing, { namespace: "t1" }) },
        {
          nkey: publicKey((identities.operator as { nkeySeed: string }).nkeySeed),
          permissions: operatorPermissions([inventory, billing], { namespace: "t1" }),
        },
      ],
    });
    // Public keys only: no seed in the server's configuration.
    expect(text).not.toMatch(/SU[A-Z2-7]{56}/);

    const env = auth.env("inventory");
    expect(env).toEqual({ NATS_NKEY_SEED_FILE: join(dataDir, "nats", "secrets", "inventory.nk") });
    expect(readFileSync(env.NATS_NKEY_SEED_FILE!, "utf8")).toBe(`${seedOf("inventory")}\n`);
    expect(statSync(env.NATS_NKEY_SEED_FILE!).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "nats", "secrets")).mode & 0o777).toBe(0o700);
  });

  it("with tls: every client must speak TLS and present a certificate from the CA (verify), NKey users kept", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "orderflow-nats-auth-"));
    dirs.push(dataDir);
    const identities = ensureNatsIdentities(dataDir, ["inventory"]);
    const tls = { ca: "/d/tls/ca.crt", cert: "/d/tls/server.crt", key: "/d/tls/server.key" };
    const auth = writeNatsAuth({ dataDir, definitions: [inventory], namespace: "", identities, tls });
    const conf = JSON.parse(readFileSync(auth.configFile, "utf8")) as {
      authorization: { users: object[] };
      tls: object;
    };
    expect(conf.tls).toEqual({
      cert_file: tls.cert,
      key_file: tls.key,
      ca_file: tls.ca,
      verify: true,
      timeout: 5,
    });
    expect(conf.authorization.users).toHaveLength(2);
  });
});

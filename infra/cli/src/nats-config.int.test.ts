import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { testNats } from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cleanEnv, runCli } from "../test/up-process.js";

describe("orderflow nats-config", () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "orderflow-nats-config-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints a configuration nats-server 2.9 runs with: each key of credentials.json admitted with its permissions, anonymous refused", async () => {
    const text = await runCli(["nats-config", "--data-dir", dir], cleanEnv());
    expect(text.code, text.stderr.join("\n")).toBe(0);
    const json = await runCli(["nats-config", "--data-dir", dir, "--json", "--write"], cleanEnv());
    // The keys were generated once and kept: the same users both times, public keys only.
    const config = JSON.parse(json.stdout.join("\n")) as { authorization: { users: { nkey: string }[] } };
    expect(config.authorization.users).toHaveLength(5);
    expect(text.stdout.join("\n")).toContain(JSON.stringify(config, null, 2));
    expect(text.stdout.join("\n")).not.toMatch(/SU[A-Z2-7]{56}/);
    const seeds = (
      JSON.parse(readFileSync(join(dir, "credentials.json"), "utf8")) as {
        nats: Record<string, { nkeySeed: string }>;
      }
    ).nats;
    expect(Object.keys(seeds).sort()).toEqual(["billing", "inventory", "operator", "order", "saga"]);
    // --write: the files `orderflow up` writes, for a container volume.
    expect(JSON.parse(readFileSync(join(dir, "nats", "auth.conf"), "utf8"))).toEqual(config);
    expect(readFileSync(join(dir, "nats", "secrets", "inventory.nk"), "utf8")).toBe(
      `${seeds.inventory!.nkeySeed}\n`,
    );

    await using nats = await testNats({ config: text.stdout.join("\n") });
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
    const as = (identity: string, inbox: string) =>
      connect({
        servers: nats.url,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(seeds[identity]!.nkeySeed)),
        inboxPrefix: natsInboxPrefix(inbox),
        maxReconnectAttempts: 0,
      });
    const operator = await as("operator", OPERATOR_IDENTITY);
    const inventory = await as("inventory", "inventory");
    try {
      // The operator may create the streams; inventory may publish its own events, not billing's.
      const jsm = await jetstreamManager(operator);
      await jsm.streams.add({ name: "INVENTORY", subjects: ["inventory.>"] });
      await jsm.streams.add({ name: "BILLING", subjects: ["billing.>"] });
      await jetstream(inventory).publish("inventory.reservation.reserved", "{}");
      await expect(jetstream(inventory).publish("billing.payment.charged", "{}")).rejects.toThrow(
        /permissions violation for publish/i,
      );
      expect((await jsm.streams.info("BILLING")).state.messages).toBe(0);
    } finally {
      await inventory.close();
      await operator.close();
    }
  }, 60_000);
});

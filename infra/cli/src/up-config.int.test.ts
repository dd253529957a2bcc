import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { freePort, testNats } from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cleanEnv, FIXTURE_CONFIG, REPO_ROOT, runCli } from "../test/up-process.js";

// The built bin as a user runs it: a bad value stops `up` with one line naming it, exit code 2,
// before anything starts (the data directory is not even created).
describe("orderflow up: configuration errors", () => {
  const tmp = mkdtempSync(join(tmpdir(), "orderflow-cli-config-"));
  const dataDir = join(tmp, "data");
  let closedPort: number;

  beforeAll(async () => {
    assertBuilt();
    closedPort = await freePort();
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // `{closed}` stands for a port nobody listens on.
  const cases: [variable: string, value: string, message: RegExp][] = [
    ["NATS_URL", "localhost:4222", /^orderflow: NATS_URL: must be a URL starting with nats:\/\//],
    [
      "NATS_URL",
      "nats://127.0.0.1:{closed}",
      /^orderflow: NATS_URL: cannot connect to nats:\/\/127\.0\.0\.1:\d+/,
    ],
    [
      "DATABASE_URL",
      "mysql://root@127.0.0.1/x",
      /^orderflow: DATABASE_URL: must be a URL starting with postgres:\/\//,
    ],
    [
      "DATABASE_URL",
      "postgres://postgres:secret@127.0.0.1:{closed}/postgres",
      /^orderflow: DATABASE_URL: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: /,
    ],
    ["ORDER_PORT", "abc", /^orderflow: ORDER_PORT: must be a number \(got "abc"\)$/],
    ["ORDER_PORT", "70000", /^orderflow: ORDER_PORT: must be at most 65535 \(got "70000"\)$/],
    ["SAGA_PORT", "0", /^orderflow: SAGA_PORT: must be between 1 and 65535 \(got "0"\)$/],
    ["BILLING_PORT", "3000", /^orderflow: BILLING_PORT: port 3000 is also ORDER_PORT$/],
    ["LOG_LEVEL", "loud", /^orderflow: LOG_LEVEL: .*\(got "loud"\)$/],
    ["CONSUMER_MAX_DELIVER", "many", /^orderflow: CONSUMER_MAX_DELIVER: must be a number/],
    [
      "ORDERFLOW_UI_PORT",
      "70000",
      /^orderflow: ORDERFLOW_UI_PORT: must be a port from 1 to 65535 \(got "70000"\)$/,
    ],
    // Secrets: named, never repeated.
    ["NATS_NKEY_SEED", "SUnot-a-seed", /^orderflow: NATS_NKEY_SEED: must be an NKey user seed[^"]*$/],
    [
      "ORDERFLOW_NATS_NKEY_SEED",
      "SUnot-a-seed",
      /^orderflow: ORDERFLOW_NATS_NKEY_SEED: must be an NKey user seed[^"]*$/,
    ],
  ];

  it.each(cases)("%s=%s → one line naming it, exit 2", async (variable, value, message) => {
    const r = await runCli(
      ["up", "--data-dir", dataDir],
      cleanEnv({ [variable]: value.replace("{closed}", String(closedPort)) }),
    );
    expect(r.stderr, r.stderr.join("\n")).toHaveLength(1);
    expect(r.stderr[0]).toMatch(message);
    expect(r.stderr[0]).toContain(variable);
    expect(r.code).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("a NATS_URL that refuses anonymous clients → one line naming NATS_URL; a key it refuses → naming ORDERFLOW_NATS_NKEY_SEED", async () => {
    const operator = nkeys.createUser();
    await using nats = await testNats({
      config: JSON.stringify({
        authorization: { users: [{ nkey: operator.getPublicKey() }] },
      }),
    });
    const anonymous = await runCli(["up", "--data-dir", dataDir], cleanEnv({ NATS_URL: nats.url }));
    expect(anonymous.stderr).toEqual([
      expect.stringMatching(/^orderflow: NATS_URL: cannot connect to .*authorization violation/i),
    ]);
    expect(anonymous.code).toBe(2);
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    const refused = await runCli(
      ["up", "--data-dir", dataDir],
      cleanEnv({ NATS_URL: nats.url, ORDERFLOW_NATS_NKEY_SEED: stranger }),
    );
    expect(refused.stderr).toEqual([
      expect.stringMatching(
        /^orderflow: ORDERFLOW_NATS_NKEY_SEED: cannot connect to .*authorization violation/i,
      ),
    ]);
    expect(refused.stderr[0]).not.toContain(stranger);
    expect(refused.code).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("a service's own variable (from its exported definition) → one line naming it, exit 2", async () => {
    const r = await runCli(
      ["up", "--data-dir", dataDir, "--config", FIXTURE_CONFIG],
      cleanEnv({ INVENTORY_FIXTURE_LIMIT: "lots" }),
    );
    expect(r.stderr).toEqual(['orderflow: INVENTORY_FIXTURE_LIMIT: must be a number (got "lots")']);
    expect(r.code).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  });

  it.skipIf(!existsSync(join(REPO_ROOT, "services", "saga", "dist", "index.js")))(
    "SAGA_DEADLINE_MS=soon (the saga's own variable) → one line naming it, exit 2",
    async () => {
      const r = await runCli(["up", "--data-dir", dataDir], cleanEnv({ SAGA_DEADLINE_MS: "soon" }));
      expect(r.stderr).toEqual([
        'orderflow: SAGA_DEADLINE_MS: must be a number of milliseconds (got "soon")',
      ]);
      expect(r.code).toBe(2);
    },
  );

  it.each([
    [["up", "--bogus"], /^orderflow: unknown option '--bogus'$/],
    [["up", "--data-dir"], /^orderflow: option '--data-dir <dir>' argument missing$/],
    [["bogus"], /^orderflow: unknown command 'bogus'$/],
    [[], /^orderflow: missing command/],
  ])("usage error %j → one line, exit 2", async (args, message) => {
    const r = await runCli(args, cleanEnv());
    expect(r.stderr, r.stderr.join("\n")).toHaveLength(1);
    expect(r.stderr[0]).toMatch(message);
    expect(r.code).toBe(2);
  });

  it("demo against nothing → one line saying the system is not running, exit 2", async () => {
    const r = await runCli(["demo"], cleanEnv({ ORDER_URL: `http://127.0.0.1:${closedPort}` }));
    expect(r.stderr).toEqual([
      expect.stringMatching(/^orderflow: the system is not running: order at http:\/\/127\.0\.0\.1:\d+/),
    ]);
    expect(r.code).toBe(2);
  });

  it("demo with a malformed URL → one line naming it, exit 2", async () => {
    const r = await runCli(["demo"], cleanEnv({ SAGA_URL: "not a url" }));
    expect(r.stderr).toEqual(['orderflow: SAGA_URL: must be an http:// URL (got "not a url")']);
    expect(r.code).toBe(2);
  });
});

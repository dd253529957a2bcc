import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nkeys } from "@nats-io/transport-node";
import { natsServers, parseConfig } from "./config.js";

const svc = { name: "order", database: "orders", defaultPort: 3000 };

describe("parseConfig", () => {
  it("defaults to the local servers, the service's own database and its port", () => {
    const c = parseConfig({}, svc);
    expect(c.natsUrl).toBe("nats://127.0.0.1:4222");
    expect(c.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/orders");
    expect(c.port).toBe(3000);
    expect(c.relay.retentionMs).toBe(24 * 3_600_000);
  });

  it("takes a cluster's NATS_URL as a comma-separated list (natsServers splits it)", () => {
    const c = parseConfig(
      { NATS_URL: "nats://127.0.0.1:4001, nats://127.0.0.1:4002,nats://127.0.0.1:4003" },
      svc,
    );
    expect(natsServers(c.natsUrl)).toEqual([
      "nats://127.0.0.1:4001",
      "nats://127.0.0.1:4002",
      "nats://127.0.0.1:4003",
    ]);
  });

  it("puts the service's database on the DATABASE_URL server; <SERVICE>_DATABASE_URL wins", () => {
    expect(
      parseConfig({ DATABASE_URL: "postgres://u:p@db:6543/postgres?sslmode=disable" }, svc).databaseUrl,
    ).toBe("postgres://u:p@db:6543/orders?sslmode=disable");
    expect(
      parseConfig({ ORDER_DATABASE_URL: "postgres://x/y", DATABASE_URL: "postgres://a/b" }, svc).databaseUrl,
    ).toBe("postgres://x/y");
  });

  it.each([
    [{ ORDER_PORT: "abc" }, /^ORDER_PORT: must be a number \(got "abc"\)$/],
    [{ ORDER_PORT: "70000" }, /^ORDER_PORT: .*65535.* \(got "70000"\)$/],
    [{ NATS_URL: "localhost:4222" }, /^NATS_URL: must be a URL starting with nats:\/\//],
    [{ NATS_URL: "nats://a:4222,localhost:4223" }, /^NATS_URL: must be a URL starting with nats:\/\//],
    [{ NATS_URL: " , " }, /^NATS_URL: must be a URL/],
    [{ DATABASE_URL: "mysql://x" }, /^DATABASE_URL: must be a URL starting with postgres:\/\//],
    [{ LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
    [{ CONSUMER_CONCURRENCY: "0" }, /^CONSUMER_CONCURRENCY: /],
    [{ NATS_REPLICAS: "2" }, /^NATS_REPLICAS: must be 1, 3 or 5/],
    [
      { DATABASE_PREPARED_STATEMENTS: "no" },
      /^DATABASE_PREPARED_STATEMENTS: must be "true" or "false" \(got "no"\)$/,
    ],
  ])("rejects %o with one line naming the variable", (env, message) => {
    expect(() => parseConfig(env, svc)).toThrow(message);
    try {
      parseConfig(env, svc);
    } catch (err) {
      expect((err as Error).message).not.toContain("\n");
      expect((err as { code: string }).code).toBe("BAD_CONFIG");
    }
  });

  describe("OPERATOR_TOKEN and the <VAR>_FILE convention", () => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-config-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const token = "t0ken-of-at-least-16-chars";
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };

    it("is undefined unless set; OPERATOR_TOKEN gives it", () => {
      expect(parseConfig({}, svc).operatorToken).toBeUndefined();
      expect(parseConfig({ OPERATOR_TOKEN: token }, svc).operatorToken).toBe(token);
    });

    it("reads <VAR>_FILE, less one trailing newline, for any variable of the shape", () => {
      const c = parseConfig(
        {
          OPERATOR_TOKEN_FILE: file("token", `${token}\n`),
          NATS_URL_FILE: file("nats", "nats://nats:4222"),
        },
        svc,
      );
      expect(c.operatorToken).toBe(token);
      expect(c.natsUrl).toBe("nats://nats:4222");
    });

    it.each([
      [
        () => ({ OPERATOR_TOKEN: token, OPERATOR_TOKEN_FILE: file("both", token) }),
        /^OPERATOR_TOKEN_FILE: OPERATOR_TOKEN is set too/,
      ],
      [
        () => ({ OPERATOR_TOKEN_FILE: join(dir, "missing") }),
        /^OPERATOR_TOKEN_FILE: cannot read .*missing: ENOENT$/,
      ],
      [() => ({ OPERATOR_TOKEN: "short" }), /^OPERATOR_TOKEN: must be at least 16 characters$/],
      [
        () => ({ OPERATOR_TOKEN_FILE: file("spaces", "has spaces in the token") }),
        /^OPERATOR_TOKEN: printable ASCII/,
      ],
    ])("refuses a bad setting with one line that never shows the token (%#)", (env, message) => {
      expect(() => parseConfig(env(), svc)).toThrow(message);
    });
  });

  describe("the NATS identity: NATS_NKEY_SEED, or NATS_USER and NATS_PASSWORD", () => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-config-nats-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const seedFile = join(dir, "inventory.nk");
    writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });

    it("is anonymous unless set", () => {
      expect(parseConfig({}, svc).natsCredentials).toBeUndefined();
    });

    it("takes an NKey seed from NATS_NKEY_SEED or the file NATS_NKEY_SEED_FILE names", () => {
      expect(parseConfig({ NATS_NKEY_SEED: seed }, svc).natsCredentials).toEqual({ kind: "nkey", seed });
      expect(parseConfig({ NATS_NKEY_SEED_FILE: seedFile }, svc).natsCredentials).toEqual({
        kind: "nkey",
        seed,
      });
    });

    it("takes a user and password", () => {
      expect(parseConfig({ NATS_USER: "inventory", NATS_PASSWORD: "pw" }, svc).natsCredentials).toEqual({
        kind: "user",
        user: "inventory",
        password: "pw",
      });
    });

    it.each([
      [{ NATS_NKEY_SEED: "SUnot-a-seed" }, /^NATS_NKEY_SEED: must be an NKey user seed/],
      // An account seed (SA…) is not a user's.
      [{ NATS_NKEY_SEED: `SA${"A".repeat(56)}` }, /^NATS_NKEY_SEED: must be an NKey user seed/],
      [{ NATS_NKEY_SEED: seed, NATS_USER: "u", NATS_PASSWORD: "p" }, /^NATS_NKEY_SEED: NATS_USER is set too/],
      [{ NATS_USER: "u" }, /^NATS_USER: set NATS_PASSWORD/],
      [{ NATS_PASSWORD: "p" }, /^NATS_PASSWORD: set NATS_USER/],
    ])("refuses a bad identity with one line that never shows the seed (%#)", (env, message) => {
      const error = (() => {
        try {
          parseConfig(env, svc);
        } catch (err) {
          return String(err);
        }
        return "no error";
      })();
      expect(error.replace(/^OutboxError: /, "")).toMatch(message);
      expect(error).not.toContain(seed);
      expect(error).not.toContain("not-a-seed");
    });
  });

  describe("NATS TLS: NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY", () => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-tls-config-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string) => {
      const path = join(dir, name);
      writeFileSync(path, "pem\n");
      return path;
    };

    it("unset: undefined (TLS only if the server requires it)", () => {
      expect(parseConfig({}, svc).natsTls).toBeUndefined();
    });

    it("gives nats.js its caFile, certFile and keyFile", () => {
      const env = { NATS_TLS_CA: file("ca.crt"), NATS_TLS_CERT: file("c.crt"), NATS_TLS_KEY: file("c.key") };
      expect(parseConfig(env, svc).natsTls).toEqual({
        caFile: env.NATS_TLS_CA,
        certFile: env.NATS_TLS_CERT,
        keyFile: env.NATS_TLS_KEY,
      });
      expect(parseConfig({ NATS_TLS_CA: env.NATS_TLS_CA }, svc).natsTls).toEqual({ caFile: env.NATS_TLS_CA });
    });

    it.each([
      [() => ({ NATS_TLS_CERT: file("a.crt") }), /^NATS_TLS_CERT: set NATS_TLS_KEY with it/],
      [() => ({ NATS_TLS_KEY: file("a.key") }), /^NATS_TLS_KEY: set NATS_TLS_CERT with it/],
      [() => ({ NATS_TLS_CA: join(dir, "missing.crt") }), /^NATS_TLS_CA: cannot read .*missing\.crt: ENOENT/],
    ])("refuses a half or unreadable configuration naming the variable (%#)", (env, message) => {
      expect(() => parseConfig(env(), svc)).toThrow(message);
    });
  });
});

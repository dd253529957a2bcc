import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

const svc = { name: "order", database: "orders", defaultPort: 3000 };

describe("parseConfig", () => {
  it("defaults to the local servers, the service's own database and its port", () => {
    const c = parseConfig({}, svc);
    expect(c.natsUrl).toBe("nats://127.0.0.1:4222");
    expect(c.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/orders");
    expect(c.port).toBe(3000);
    expect(c.relay.retentionMs).toBe(24 * 3_600_000);
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
});

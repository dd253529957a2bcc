import { defineCatalog } from "@orderflow/events";
import { describe, expect, it } from "vitest";
import type { AnyDefinition, SystemService } from "../system/load-system.js";
import { parseUpConfig } from "./up-config.js";

const entry = (name: string, defaultPort: number): SystemService => ({
  name,
  main: `/repo/services/${name}/dist/main.js`,
  definition: {
    name,
    database: name,
    defaultPort,
    migrations: {},
    publishes: defineCatalog({ typePrefix: "test", events: [] }),
  } satisfies AnyDefinition,
});
const four = [entry("billing", 3002), entry("inventory", 3001), entry("order", 3000), entry("saga", 3003)];
const badConfig = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  throw new Error("expected a configuration error");
};

describe("parseUpConfig", () => {
  it("defaults: servers to spawn, the contract's ports, quieter logs", () => {
    const c = parseUpConfig({}, four);
    expect(c.natsUrl).toBeUndefined();
    expect(c.databaseUrl).toBeUndefined();
    expect(c.host).toBe("127.0.0.1");
    expect(c.childEnv).toEqual({
      LOG_LEVEL: "warn",
      ORDER_PORT: "3000",
      INVENTORY_PORT: "3001",
      BILLING_PORT: "3002",
      SAGA_PORT: "3003",
    });
  });

  it("ORDERFLOW_TLS: 1/true on, 0/false or unset off, anything else named", () => {
    expect(parseUpConfig({}, four).tls).toBe(false);
    expect(parseUpConfig({ ORDERFLOW_TLS: "1" }, four).tls).toBe(true);
    expect(parseUpConfig({ ORDERFLOW_TLS: "true" }, four).tls).toBe(true);
    expect(parseUpConfig({ ORDERFLOW_TLS: "0" }, four).tls).toBe(false);
    expect(badConfig(() => parseUpConfig({ ORDERFLOW_TLS: "yes please" }, four))).toEqual({
      code: "BAD_CONFIG",
      message: 'ORDERFLOW_TLS: must be 1 or 0 (got "yes please")',
    });
  });

  it("takes what is set; empty strings count as unset", () => {
    const c = parseUpConfig(
      {
        NATS_URL: "nats://n:4222",
        DATABASE_URL: "",
        ORDER_PORT: "4000",
        LOG_LEVEL: "debug",
        HOST: "0.0.0.0",
      },
      four,
    );
    expect(c.natsUrl).toBe("nats://n:4222");
    expect(c.databaseUrl).toBeUndefined();
    expect(c.host).toBe("0.0.0.0");
    expect(c.childEnv).toMatchObject({ ORDER_PORT: "4000", LOG_LEVEL: "debug" });
  });

  it("validates each service's variables with its definition, in the config's order", () => {
    const c = parseUpConfig({}, [entry("saga", 3003), entry("order", 3000)]);
    expect(c.services.map((p) => [p.service.name, p.portVar, p.port])).toEqual([
      ["saga", "SAGA_PORT", 3003],
      ["order", "ORDER_PORT", 3000],
    ]);
    expect(badConfig(() => parseUpConfig({ ORDER_PORT: "x" }, four))).toEqual({
      code: "BAD_CONFIG",
      message: 'ORDER_PORT: must be a number (got "x")',
    });
  });

  it("blames the variable that was set when two ports collide", () => {
    expect(badConfig(() => parseUpConfig({ SAGA_PORT: "3001" }, four)).message).toBe(
      "SAGA_PORT: port 3001 is also INVENTORY_PORT",
    );
    expect(badConfig(() => parseUpConfig({ BILLING_PORT: "3003" }, four)).message).toBe(
      "BILLING_PORT: port 3003 is also SAGA_PORT",
    );
  });

  it("needs a port the runner can probe: not 0, even as a definition's default", () => {
    expect(badConfig(() => parseUpConfig({}, [entry("extra", 0)])).message).toBe(
      'EXTRA_PORT: must be between 1 and 65535 (got "0")',
    );
    expect(parseUpConfig({ EXTRA_PORT: "4100" }, [entry("extra", 0)]).services[0]?.port).toBe(4100);
  });

  it("still checks the shared variables when there is no service at all", () => {
    expect(badConfig(() => parseUpConfig({ NATS_URL: "http://x" }, [])).message).toMatch(
      /^NATS_URL: must be a URL/,
    );
  });
});

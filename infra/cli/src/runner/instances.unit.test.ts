import { defineCatalog } from "@orderflow/events";
import { describe, expect, it } from "vitest";
import type { AnyDefinition, SystemService } from "../system/load-system.js";
import { instancePlans, instancesEnv, parseInstances, processName } from "./instances.js";
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
const four = [entry("order", 3000), entry("inventory", 3001), entry("billing", 3002), entry("saga", 3003)];
const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  throw new Error("expected a configuration error");
};

describe("--instances", () => {
  it("is one unless given; 1 to 4", () => {
    expect(parseInstances(undefined)).toBe(1);
    expect(parseInstances("2")).toBe(2);
    expect(parseInstances("4")).toBe(4);
  });

  it.each(["0", "5", "two", "1.5", "-1", ""])("refuses %j with one line naming the flag", (value) => {
    expect(failure(() => parseInstances(value))).toEqual({
      code: "BAD_CONFIG",
      message: `--instances: must be an integer from 1 to 4 (got "${value}")`,
    });
  });

  it("runs the second instance of every service on its port + 100, named <service>-2", () => {
    const plans = instancePlans(parseUpConfig({}, four).services, 2);
    expect(plans.map((p) => [processName(p), p.port, p.portVar])).toEqual([
      ["order", 3000, "ORDER_PORT"],
      ["inventory", 3001, "INVENTORY_PORT"],
      ["billing", 3002, "BILLING_PORT"],
      ["saga", 3003, "SAGA_PORT"],
      ["order-2", 3100, "ORDER_PORT"],
      ["inventory-2", 3101, "INVENTORY_PORT"],
      ["billing-2", 3102, "BILLING_PORT"],
      ["saga-2", 3103, "SAGA_PORT"],
    ]);
    expect(instancePlans(parseUpConfig({}, four).services, 1)).toEqual(parseUpConfig({}, four).services);
  });

  it("refuses an instance port that is another service's or past 65535", () => {
    const clash = parseUpConfig({ SAGA_PORT: "3100" }, four).services;
    expect(failure(() => instancePlans(clash, 2))).toEqual({
      code: "BAD_CONFIG",
      message: "--instances: order-2 would listen on port 3100 (ORDER_PORT + 100), which is saga's",
    });
    const high = parseUpConfig({ SAGA_PORT: "65500" }, four).services;
    expect(failure(() => instancePlans(high, 2))).toEqual({
      code: "BAD_CONFIG",
      message: "--instances: saga-2 would listen on port 65600 (past 65535)",
    });
  });

  it("gives the services a 2 s ack wait with more than one instance, unless CONSUMER_ACK_WAIT_MS is set", () => {
    expect(instancesEnv(1, {})).toEqual({});
    expect(instancesEnv(2, {})).toEqual({ CONSUMER_ACK_WAIT_MS: "2000" });
    expect(instancesEnv(2, { CONSUMER_ACK_WAIT_MS: "3000" })).toEqual({});
  });
});

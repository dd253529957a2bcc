import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nkeys } from "@nats-io/transport-node";
import { definition as order } from "@orderflow/order";
import { isCliError } from "../errors.js";
import { operatorIdentity, rebuildOptions, runningSystemEnv, serviceConfig } from "./context.js";

describe("runningSystemEnv: the servers of a running `orderflow up`", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = (servers: object): string => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-servers-"));
    dirs.push(dir);
    writeFileSync(join(dir, "servers.json"), JSON.stringify(servers));
    return dir;
  };
  const running = {
    pid: process.pid,
    natsUrl: "nats://127.0.0.1:40001",
    databaseUrl: "postgres://p@127.0.0.1:40002/postgres",
  };

  it("fills in whichever of NATS_URL / DATABASE_URL is not set", () => {
    const dir = dataDir(running);
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: dir })).toEqual({
      NATS_URL: running.natsUrl,
      DATABASE_URL: running.databaseUrl,
    });
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: dir, NATS_URL: "nats://elsewhere:4222" })).toEqual({
      DATABASE_URL: running.databaseUrl,
    });
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: dir, NATS_URL: "n", DATABASE_URL: "d" })).toEqual({});
  });

  it("ignores a file left by a runner that is gone, and a missing or unreadable one", () => {
    // Pid 2^22 + 1 is above Linux's pid_max limit: never a live process.
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: dataDir({ ...running, pid: 4_194_305 }) })).toEqual({});
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: join(tmpdir(), "orderflow-no-such-dir") })).toEqual({});
    const dir = dataDir({});
    writeFileSync(join(dir, "servers.json"), "not json");
    expect(runningSystemEnv({ ORDERFLOW_DATA_DIR: dir })).toEqual({});
  });
});

describe("serviceConfig: a service's database as the CLI opens it", () => {
  const definition = { name: "inventory", database: "inventory", defaultPort: 3001 };
  const env = { DATABASE_URL: "postgres://postgres:admin@127.0.0.1:5432/postgres" };
  const role = "postgres://inventory_owner:pw@127.0.0.1:5432/inventory";
  const operator = "postgres://orderflow_operator_x:op@127.0.0.1:5432/postgres";

  it("connects as the service's role kept in credentials.json for the same database, rebuilding with the operator", () => {
    const got = serviceConfig({ env, postgres: { inventory: role, "@operator": operator } }, definition);
    expect(got.config.databaseUrl).toBe(role);
    expect(got.variable).toBe("credentials.json postgres.inventory");
    expect(got.operatorUrl).toBe(operator);
    // No operator kept: the environment's user drops and creates.
    expect(serviceConfig({ env, postgres: { inventory: role } }, definition).operatorUrl).toBe(
      "postgres://postgres:admin@127.0.0.1:5432/inventory",
    );
  });

  it("uses the environment as before when the kept role is for another server or database, or there is none", () => {
    for (const postgres of <Record<string, string>[]>[
      {},
      { inventory: "postgres://inventory_owner:pw@127.0.0.1:5433/inventory" },
      { inventory: "postgres://other_owner:pw@127.0.0.1:5432/other" },
      { inventory: "not a url" },
    ]) {
      const got = serviceConfig({ env, postgres }, definition);
      expect(got.config.databaseUrl).toBe("postgres://postgres:admin@127.0.0.1:5432/inventory");
      expect(got.operatorUrl).toBeUndefined();
      expect(got.variable).toBeUndefined();
    }
  });
});

describe("operatorIdentity: how the orderflow command authenticates to NATS", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const newSeed = () => new TextDecoder().decode(nkeys.createUser().getSeed());
  const natsUrl = "nats://127.0.0.1:40001";
  const running = (operator: string) => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-operator-"));
    dirs.push(dir);
    writeFileSync(join(dir, "servers.json"), JSON.stringify({ pid: process.pid, natsUrl }));
    writeFileSync(
      join(dir, "credentials.json"),
      JSON.stringify({ nats: { operator: { nkeySeed: operator } } }),
    );
    return dir;
  };

  it("takes ORDERFLOW_NATS_NKEY_SEED (or its _FILE) first", () => {
    const seed = newSeed();
    const dir = running(newSeed());
    expect(operatorIdentity({ ORDERFLOW_NATS_NKEY_SEED: seed, ORDERFLOW_DATA_DIR: dir }, natsUrl)).toEqual({
      identity: { nkeySeed: seed },
      from: "ORDERFLOW_NATS_NKEY_SEED",
    });
    const file = join(dir, "operator.nk");
    writeFileSync(file, `${seed}\n`);
    expect(operatorIdentity({ ORDERFLOW_NATS_NKEY_SEED_FILE: file }, natsUrl)?.identity).toEqual({
      nkeySeed: seed,
    });
    expect(() => operatorIdentity({ ORDERFLOW_NATS_NKEY_SEED: "nope" }, natsUrl)).toThrow(
      /^ORDERFLOW_NATS_NKEY_SEED: must be an NKey user seed/,
    );
    expect(() =>
      operatorIdentity({ ORDERFLOW_NATS_NKEY_SEED: seed, ORDERFLOW_NATS_NKEY_SEED_FILE: file }, natsUrl),
    ).toThrow(/set one of them/);
  });

  it("else the operator's key of the running `orderflow up` whose nats-server it connects to; else none", () => {
    const seed = newSeed();
    const dir = running(seed);
    expect(operatorIdentity({ ORDERFLOW_DATA_DIR: dir }, natsUrl)?.identity).toEqual({ nkeySeed: seed });
    expect(operatorIdentity({ ORDERFLOW_DATA_DIR: dir }, "nats://elsewhere:4222")).toBeUndefined();
    expect(
      operatorIdentity({ ORDERFLOW_DATA_DIR: join(tmpdir(), "orderflow-no-such-dir") }, natsUrl),
    ).toBeUndefined();
  });
});

describe("rebuildOptions: what rebuild needs of a service", () => {
  it("takes the service's projection and its stream; a service without one is refused, naming those that can", async () => {
    expect(await rebuildOptions(order)).toMatchObject({
      service: "order",
      source: "/orderflow/order",
      stream: "ORDERS",
    });
    const refused = await rebuildOptions({ ...order, name: "ledger", projection: undefined }).catch(
      (e: unknown) => e,
    );
    expect(isCliError(refused) && refused.code).toBe("BAD_CONFIG");
    expect((refused as Error).message).toBe(
      "service ledger cannot be rebuilt from its events (order, inventory, billing, and saga can)",
    );
  });
});

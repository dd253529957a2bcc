import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkNatsStore, natsPidFiles, parseNatsNodes, withNatsNodes } from "./nats-cluster.js";
import { writeServersFile } from "./servers-file.js";
import { parseUpConfig } from "./up-config.js";

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  throw new Error("expected a configuration error");
};

describe("--nats-nodes", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "orderflow-nats-nodes-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("takes 1 (the default), 3 or 5; anything else is one BAD_CONFIG line", () => {
    expect(parseNatsNodes(undefined)).toBe(1);
    expect(parseNatsNodes("3")).toBe(3);
    for (const bad of ["2", "0", "-3", "3.0x", "abc", "", "7"])
      expect(failure(() => parseNatsNodes(bad))).toEqual({
        code: "BAD_CONFIG",
        message: `--nats-nodes: must be 1, 3 or 5 (got "${bad}")`,
      });
  });

  it("gives every stream as many replicas as nodes and tells the services; NATS_URL runs none of ours", () => {
    const one = parseUpConfig({}, []);
    expect(withNatsNodes(one, 1, {})).toBe(one);
    const three = withNatsNodes(one, 3, {});
    expect(three).toMatchObject({ natsNodes: 3, replicas: 3, childEnv: { NATS_REPLICAS: "3" } });
    expect(withNatsNodes(parseUpConfig({ NATS_REPLICAS: "1" }, []), 3, { NATS_REPLICAS: "1" }).replicas).toBe(
      1,
    );
    expect(
      failure(() => withNatsNodes(parseUpConfig({ NATS_REPLICAS: "5" }, []), 3, { NATS_REPLICAS: "5" })),
    ).toMatchObject({ code: "BAD_CONFIG" });
    expect(
      failure(() => withNatsNodes(parseUpConfig({ NATS_REPLICAS: "5" }, []), 3, { NATS_REPLICAS: "5" }))
        .message,
    ).toMatch(/^NATS_REPLICAS: /);
    const url = parseUpConfig({ NATS_URL: "nats://127.0.0.1:4222" }, []);
    expect(failure(() => withNatsNodes(url, 3, {}))).toMatchObject({
      code: "BAD_CONFIG",
      message: "--nats-nodes: NATS_URL is set, so the runner starts no nats-server",
    });
  });

  it("refuses a data dir whose JetStream store another node count made", () => {
    const single = tmp();
    mkdirSync(join(single, "nats", "jetstream"), { recursive: true });
    expect(() => checkNatsStore(single, 1)).not.toThrow();
    expect(failure(() => checkNatsStore(single, 3)).code).toBe("BAD_CONFIG");
    expect(failure(() => checkNatsStore(single, 3)).message).toContain(
      "holds the JetStream store of one nats-server; run with --nats-nodes 1",
    );
    const cluster = tmp();
    for (const n of ["n1", "n2", "n3"]) mkdirSync(join(cluster, "nats", n, "jetstream"), { recursive: true });
    expect(() => checkNatsStore(cluster, 3)).not.toThrow();
    expect(failure(() => checkNatsStore(cluster, 1)).message).toContain(
      "of a 3-node cluster; run with --nats-nodes 3",
    );
    // Nothing stored yet (or only the users' configuration): any count.
    const fresh = tmp();
    mkdirSync(join(fresh, "nats", "secrets"), { recursive: true });
    expect(() => checkNatsStore(fresh, 5)).not.toThrow();
    expect(natsPidFiles(fresh, 3)).toEqual(
      ["n1", "n2", "n3"].map((n) => join(fresh, "nats", n, "nats-server.pid")),
    );
  });

  it("servers.json: every node beside natsUrl with a cluster, the single-node shape unchanged without", () => {
    const dir = tmp();
    const postgres = { url: "postgres://x/y", source: "embedded" as const, pid: 9 };
    writeServersFile(dir, { nats: { url: "nats://127.0.0.1:1", source: "binary", pid: 7 }, postgres });
    const read = () => JSON.parse(readFileSync(join(dir, "servers.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(read())).toEqual(["pid", "natsUrl", "databaseUrl"]);
    const natsNodes = [
      { name: "n1", url: "nats://127.0.0.1:1", pid: 11 },
      { name: "n2", url: "nats://127.0.0.1:2", pid: 12 },
    ];
    writeServersFile(dir, {
      nats: { url: "nats://127.0.0.1:1,nats://127.0.0.1:2", source: "binary", pid: undefined },
      postgres,
      natsNodes,
    });
    expect(read()).toEqual({
      pid: process.pid,
      natsUrl: "nats://127.0.0.1:1,nats://127.0.0.1:2",
      databaseUrl: "postgres://x/y",
      nats: natsNodes,
    });
  });
});

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { resolveNats, resolvePostgres, type Resolved } from "@orderflow/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { alive } from "../test/up-process.js";

// What `orderflow up` gets from @orderflow/testing for each environment: a URL given is used as is, nothing
// spawned; otherwise a nats-server from PATH and an embedded PostgreSQL keep their data in the dir.
describe("infra choices of the dev runner", () => {
  const tmp = mkdtempSync(join(tmpdir(), "orderflow-cli-infra-"));
  // As root, PostgreSQL runs as `postgres`, which must be able to reach its data dir.
  chmodSync(tmp, 0o755);
  const cleared: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  const started: Resolved[] = [];
  afterAll(async () => {
    for (const r of started) await r.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("uses NATS_URL and DATABASE_URL as they are, starting nothing", async () => {
    const env = {
      ...cleared,
      NATS_URL: "nats://nats.example:4222",
      DATABASE_URL: "postgres://u@db.example:5432/postgres",
    };
    const nats = await resolveNats({ env, dataDir: join(tmp, "env") });
    const postgres = await resolvePostgres({ env, dataDir: join(tmp, "env") });
    expect(nats).toMatchObject({ url: "nats://nats.example:4222", source: "env" });
    expect(postgres).toMatchObject({ url: "postgres://u@db.example:5432/postgres", source: "env" });
    expect([nats.pid, postgres.pid]).toEqual([undefined, undefined]);
    expect(existsSync(join(tmp, "env"))).toBe(false);
  });

  it("spawns nats-server with JetStream, its store and pid file in the data dir, when NATS_URL is unset", async () => {
    const dataDir = join(tmp, "nats");
    const pidFile = join(dataDir, "nats", "nats-server.pid");
    const nats = await resolveNats({ env: cleared, dataDir, natsArgs: ["-P", pidFile] });
    started.push(nats);
    expect(nats.source).toBe("binary");
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const pid = nats.pid!;
    expect(alive(pid)).toBe(true);
    expect(Number(readFileSync(pidFile, "utf8").trim())).toBe(pid);
    const nc = await connect({ servers: nats.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    await nats.stop();
    expect(alive(pid)).toBe(false);
  });

  it("starts embedded PostgreSQL in the data dir when DATABASE_URL is unset, and keeps its data", async () => {
    const dataDir = join(tmp, "pg");
    const first = await resolvePostgres({ env: cleared, dataDir });
    started.push(first);
    expect(first.source).toBe("embedded");
    const pid = first.pid!;
    expect(Number(readFileSync(join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0])).toBe(
      pid,
    );
    const c = new pg.Client(first.url);
    await c.connect();
    await c.query("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
    await c.end();
    await first.stop();
    expect(alive(pid)).toBe(false);

    const second = await resolvePostgres({ env: cleared, dataDir });
    started.push(second);
    const c2 = new pg.Client(second.url);
    await c2.connect();
    expect((await c2.query("SELECT x FROM kept")).rows).toEqual([{ x: 7 }]);
    await c2.end();
  }, 60_000);
});

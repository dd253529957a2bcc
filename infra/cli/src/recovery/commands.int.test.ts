import { catalog } from "@orderflow/contracts";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort, testNats, type TestNats } from "@orderflow/testing";
import { ensureStreams } from "@orderflow/outbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cleanEnv, runCli } from "../../test/up-process.js";

/** The recovery commands as a user runs them: the built bin, one line and exit 2 on bad input. */
describe("orderflow recovery commands", () => {
  let nats: TestNats;
  const env = () =>
    cleanEnv({
      NATS_URL: nats.url,
      DATABASE_URL: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    });

  beforeAll(async () => {
    assertBuilt();
    nats = await testNats();
    const nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc), { streams: catalog.streams });
    await nc.close();
  });
  afterAll(async () => {
    await nats?.[Symbol.asyncDispose]();
  });

  it.each([
    [["rebuild", "payments", "--yes"], /unknown service "payments"/],
    [["rebuild", "inventory"], /add --yes/],
    [["republish", "billing", "--since", "yesterday", "--yes"], /--since: "yesterday" is not a time/],
    [["republish", "billing", "--since", "1h"], /add --yes/],
    [["replay", "--service", "inventory", "--stream", "NOPE"], /unknown stream "NOPE"/],
    [
      ["replay", "--service", "inventory", "--stream", "ORDERS", "--from-seq", "999"],
      /past the end of ORDERS/,
    ],
    [["replay", "--service", "inventory", "--from-seq", "x"], /--from-seq: "x" is not a positive sequence/],
    // Without --stream: past the end of every stream the service reads.
    [
      ["replay", "--service", "inventory", "--from-seq", "99999999"],
      /--from-seq 99999999 is past the end of/,
    ],
    [["replay", "--service", "inventory", "--since", "2099-01-01T00:00:00Z"], /--since: .* is in the future/],
    [["republish", "billing", "--since", "2099-01-01T00:00:00Z", "--yes"], /--since: .* is in the future/],
    [
      ["consumers", "reset", "ORDERS", "saga", "--time", "2099-01-01T00:00:00Z", "--yes"],
      /--time: 2099-01-01T00:00:00.000Z is in the future/,
    ],
    [["consumers", "reset", "ORDERS", "ghost", "--seq", "1", "--yes"], /unknown consumer "ghost"/],
    [["consumers", "reset", "NOPE", "inventory", "--seq", "1", "--yes"], /unknown stream "NOPE"/],
    [["consumers", "reset", "ORDERS", "inventory", "--seq", "1"], /add --yes/],
    [["dlq", "show", "7"], /no dead letter 7/],
    [["dlq", "redrive"], /give a dead-letter id or --all/],
    [["dlq", "purge"], /add --yes/],
  ])("%j → one line, exit 2", async (args, message) => {
    const r = await runCli(args, env());
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(message);
    expect(r.code).toBe(2);
  });

  it("lists consumers and dead letters as JSON for scripts", async () => {
    const consumers = await runCli(["consumers", "--json"], env());
    expect(consumers.code).toBe(0);
    expect(JSON.parse(consumers.stdout.join("\n"))).toEqual([]);
    const dlq = await runCli(["dlq", "list", "--json"], env());
    expect(dlq.code).toBe(0);
    expect(JSON.parse(dlq.stdout.join("\n"))).toEqual([]);
  });

  it.each([
    [["outbox"], "ORDER"],
    [["replay", "--service", "inventory"], "INVENTORY"],
    [["republish", "billing", "--since", "1h", "--yes"], "BILLING"],
    [["rebuild", "inventory", "--yes"], "INVENTORY"],
  ])("%j names the variable when PostgreSQL cannot be reached", async (args, service) => {
    const url = `postgres://postgres:secret@127.0.0.1:${await freePort()}/postgres`;
    const r = await runCli(args, cleanEnv({ NATS_URL: nats.url, DATABASE_URL: url }));
    expect(r.stderr).toEqual([
      expect.stringMatching(
        new RegExp(
          `^orderflow: DATABASE_URL \\(or ${service}_DATABASE_URL\\): cannot reach postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/\\w+: .*ECONNREFUSED`,
        ),
      ),
    ]);
    expect(r.code).toBe(2);
  });

  it("names the service's own variable when that is the one set", async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/inventory`;
    const r = await runCli(["replay", "--service", "inventory"], { ...env(), INVENTORY_DATABASE_URL: url });
    expect(r.stderr).toEqual([
      `orderflow: INVENTORY_DATABASE_URL: cannot reach ${url}: connect ECONNREFUSED ${new URL(url).host}`,
    ]);
    expect(r.code).toBe(2);
  });

  it("says when NATS cannot be reached", async () => {
    const r = await runCli(["consumers"], cleanEnv({ NATS_URL: "nats://127.0.0.1:1" }));
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/NATS_URL: cannot reach/);
    expect(r.code).toBe(2);
  });
});

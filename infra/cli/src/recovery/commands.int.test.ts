import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { testNats, type TestNats } from "@orderflow/infra";
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
    await ensureStreams(await jetstreamManager(nc));
    await nc.close();
  });
  afterAll(async () => {
    await nats?.[Symbol.asyncDispose]();
  });

  it.each([
    [["rebuild", "payments", "--yes"], /unknown service "payments"/],
    [["rebuild", "inventory"], /add --yes/],
    [["rebuild", "order", "--yes"], /cannot be rebuilt/],
    [["republish", "billing", "--since", "yesterday", "--yes"], /--since: "yesterday" is not a time/],
    [["republish", "billing", "--since", "1h"], /add --yes/],
    [["replay", "--service", "inventory", "--stream", "NOPE"], /unknown stream "NOPE"/],
    [
      ["replay", "--service", "inventory", "--stream", "ORDERS", "--from-seq", "999"],
      /past the end of ORDERS/,
    ],
    [["replay", "--service", "inventory", "--from-seq", "x"], /--from-seq: "x" is not a positive sequence/],
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

  it("says when NATS cannot be reached", async () => {
    const r = await runCli(["consumers"], cleanEnv({ NATS_URL: "nats://127.0.0.1:1" }));
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/NATS_URL: cannot reach/);
    expect(r.code).toBe(2);
  });
});

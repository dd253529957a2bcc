import { describe, expect, it } from "vitest";
import { runChaos } from "../../chaos/run.js";
import { assertBuilt } from "../../test/up-process.js";

// The short seeded variant of `npm run chaos`: the same run, checks and verdict, fewer seconds.
describe("chaos (short, seeded)", () => {
  it("3 NATS nodes, 2 instances each: loses and doubles nothing while instances, NATS nodes, PostgreSQL and relay leaders are killed or paused", async () => {
    assertBuilt();
    const lines: string[] = [];
    const result = await runChaos({
      seed: 20261204,
      seconds: 20,
      rate: 10,
      natsNodes: 3,
      instances: 2,
      log: (l) => lines.push(l),
    });
    expect(result.violations, `${lines.join("\n")}\n${result.summary}`).toEqual([]);
    expect(result.faults).toBeGreaterThanOrEqual(2);
    expect(result.orders).toBeGreaterThan(100);
    expect(result.summary).toMatch(
      /^chaos: \d+ orders, \d+ faults, lost 0, doubled 0, invariants ok, settled in/,
    );
  }, 300_000);
});

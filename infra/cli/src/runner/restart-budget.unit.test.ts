import { describe, expect, it } from "vitest";
import { RestartBudget } from "./restart-budget.js";

describe("RestartBudget", () => {
  it("allows five restarts of a service within a minute, not a sixth; other services count apart", () => {
    let now = 0;
    const budget = new RestartBudget({ now: () => now });
    const deaths = Array.from({ length: 6 }, () => {
      now += 1000;
      return budget.mayRestart("stock");
    });
    expect(deaths).toEqual([true, true, true, true, true, false]);
    expect(budget.mayRestart("ledger")).toBe(true);
  });

  it("forgets deaths older than a minute", () => {
    let now = 0;
    const budget = new RestartBudget({ now: () => now });
    for (let i = 0; i < 5; i++) budget.mayRestart("stock");
    now += 60_000;
    expect(budget.mayRestart("stock")).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable, isTransientDatabaseError } from "./errors.js";

describe("database error classes", () => {
  it.each([
    [{ code: "08006" }, true, true],
    [{ code: "57P01" }, true, true],
    [{ code: "ECONNREFUSED" }, true, true],
    [new Error("Connection terminated unexpectedly"), true, true],
    [{ code: "40P01" }, false, true],
    [{ code: "40001" }, false, true],
    [{ code: "0A000" }, false, true],
    [{ code: "23505" }, false, false],
    [new Error("handler bug"), false, false],
    [undefined, false, false],
  ])("%o: unavailable %s, transient %s", (err, unavailable, transient) => {
    expect(isDatabaseUnavailable(err)).toBe(unavailable);
    expect(isTransientDatabaseError(err)).toBe(transient);
  });
});

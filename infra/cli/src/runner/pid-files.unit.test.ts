import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectPidFile, isAlive } from "./pid-files.js";

describe("pid files left by an earlier run", () => {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-pid-"));
  const file = join(dir, "x.pid");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const deadPid = () => {
    return spawnSync(process.execPath, ["-e", ""]).pid;
  };

  it("no file: absent", () => {
    expect(inspectPidFile(join(dir, "none.pid"), /node/)).toEqual({ state: "absent" });
  });

  it("a process that is gone: stale", () => {
    const pid = deadPid();
    expect(isAlive(pid)).toBe(false);
    writeFileSync(file, `${pid}\n`);
    expect(inspectPidFile(file, /node/)).toEqual({ state: "stale", pid });
  });

  it("a live process of the expected kind: live (first line only, as in postmaster.pid)", () => {
    writeFileSync(file, `${process.pid}\n/some/data/dir\n1700000000\n`);
    expect(inspectPidFile(file, /node/)).toEqual({ state: "live", pid: process.pid });
  });

  it.skipIf(!existsSync("/proc/self/cmdline"))("a recycled pid now running something else: stale", () => {
    writeFileSync(file, `${process.pid}\n`);
    expect(inspectPidFile(file, /nats-server/)).toEqual({ state: "stale", pid: process.pid });
  });

  it("a file without a pid: stale", () => {
    writeFileSync(file, "garbage\n");
    expect(inspectPidFile(file, /node/)).toEqual({ state: "stale", pid: 0 });
  });
});

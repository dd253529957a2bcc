import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@orderflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { StderrTail } from "./stderr-tail.js";

describe("StderrTail", () => {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-tail-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const follow = (keep?: number) => {
    const file = join(dir, `${++n}.log`);
    writeFileSync(file, "");
    const lines: string[] = [];
    // A long interval: these tests drive reads themselves.
    const tail = new StderrTail({ file, onLine: (l) => lines.push(l), keep, intervalMs: 60_000 });
    return { file, lines, tail };
  };

  it("passes on each complete line once, and holds a partial one until it ends", () => {
    const { file, lines, tail } = follow();
    appendFileSync(file, "one\ntw");
    tail.drain();
    expect(lines).toEqual(["one"]);
    appendFileSync(file, "o\nthree\n");
    tail.drain();
    tail.drain();
    expect(lines).toEqual(["one", "two", "three"]);
    tail.close();
  });

  it("keeps the last lines only, oldest first", () => {
    const { file, tail } = follow(3);
    appendFileSync(file, ["a", "b", "c", "d", "e"].map((l) => `${l}\n`).join(""));
    tail.drain();
    expect(tail.lastLines()).toEqual(["c", "d", "e"]);
    tail.close();
  });

  it("on close, reads the rest including an unterminated last line (a crash mid-line)", () => {
    const { file, lines, tail } = follow();
    appendFileSync(file, "fine\nError: boom");
    tail.close();
    expect(lines).toEqual(["fine", "Error: boom"]);
    expect(tail.lastLines()).toEqual(["fine", "Error: boom"]);
    appendFileSync(file, "\nafter close\n");
    tail.drain();
    expect(lines).toEqual(["fine", "Error: boom"]);
  });

  it("decodes a character split across two reads", () => {
    const { file, lines, tail } = follow();
    const bytes = Buffer.from("prix 3 €\n");
    appendFileSync(file, bytes.subarray(0, bytes.length - 2));
    tail.drain();
    appendFileSync(file, bytes.subarray(bytes.length - 2));
    tail.close();
    expect(lines).toEqual(["prix 3 €"]);
  });

  it("follows by itself, without being asked", async () => {
    const file = join(dir, "timed.log");
    writeFileSync(file, "");
    const lines: string[] = [];
    const tail = new StderrTail({ file, onLine: (l) => lines.push(l), intervalMs: 10 });
    appendFileSync(file, "hello\n");
    await waitFor("the line to be read", () => lines.includes("hello"), { timeoutMs: 5000 });
    tail.close();
  });
});

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureOperatorToken, readCredentials, writeCredentials } from "./credentials-file.js";

describe("credentials.json", () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), "orderflow-credentials-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("generates an operator token once (32 bytes, base64url), mode 0600, and reuses it", () => {
    const dir = dataDir();
    const token = ensureOperatorToken(dir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, "credentials.json")).mode & 0o777).toBe(0o600);
    expect(ensureOperatorToken(dir)).toBe(token);
    expect(ensureOperatorToken(dataDir())).not.toBe(token);
  });

  it("writes one section at a time, keeping the others", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "credentials.json"), JSON.stringify({ nats: { order: { user: "u" } } }));
    const token = ensureOperatorToken(dir);
    writeCredentials(dir, { postgres: { order: "postgres://x" } });
    expect(readCredentials(dir)).toEqual({
      nats: { order: { user: "u" } },
      http: { operatorToken: token },
      postgres: { order: "postgres://x" },
    });
    expect(JSON.parse(readFileSync(join(dir, "credentials.json"), "utf8"))).toEqual(readCredentials(dir));
  });

  it("a file that is not a JSON object is an error, not a reason to overwrite it", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "credentials.json"), "[]");
    expect(() => ensureOperatorToken(dir)).toThrow(/not a JSON object/);
  });
});

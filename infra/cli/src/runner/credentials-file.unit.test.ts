import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ensureNatsIdentities,
  ensureOperatorToken,
  readCredentials,
  writeCredentials,
} from "./credentials-file.js";

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

  describe("NATS identities", () => {
    const seed: unknown = expect.stringMatching(/^SU[A-Z2-7]{56}$/);

    it("generates an NKey user per service and the operator's once, keeps them, and adds new services'", () => {
      const dir = dataDir();
      const token = ensureOperatorToken(dir);
      const first = ensureNatsIdentities(dir, ["order", "inventory"]);
      expect(first).toEqual({
        services: { order: { nkeySeed: seed }, inventory: { nkeySeed: seed } },
        operator: { nkeySeed: seed },
      });
      expect(new Set(Object.values(readCredentials(dir).nats ?? {}).map((i) => JSON.stringify(i))).size).toBe(
        3,
      );
      expect(statSync(join(dir, "credentials.json")).mode & 0o777).toBe(0o600);
      expect(readCredentials(dir).http?.operatorToken).toBe(token);

      // A restart with a service added: the others keep their keys, the new one gets its own.
      const second = ensureNatsIdentities(dir, ["order", "inventory", "billing"]);
      expect(second.services.order).toEqual(first.services.order);
      expect(second.services.inventory).toEqual(first.services.inventory);
      expect(second.operator).toEqual(first.operator);
      expect(second.services.billing).toEqual({ nkeySeed: seed });
      expect(second.services.billing).not.toEqual(first.services.order);

      // Rotating one key: delete its entry; the others stay.
      const { inventory: _rotated, ...rest } = readCredentials(dir).nats!;
      writeCredentials(dir, { nats: rest });
      const third = ensureNatsIdentities(dir, ["order", "inventory", "billing"]);
      expect(third.services.inventory).not.toEqual(first.services.inventory);
      expect(third.services.order).toEqual(first.services.order);
    });

    it("keeps a user and password entry, and refuses a malformed one or a service named operator", () => {
      const dir = dataDir();
      writeCredentials(dir, { nats: { order: { user: "order", password: "pw" } } });
      expect(ensureNatsIdentities(dir, ["order"]).services.order).toEqual({ user: "order", password: "pw" });

      writeCredentials(dir, { nats: { order: { nkeySeed: "SAnot-a-user-seed" } } });
      expect(() => ensureNatsIdentities(dir, ["order"])).toThrow(/nats\.order is neither/);
      expect(readCredentials(dir).nats?.order).toEqual({ nkeySeed: "SAnot-a-user-seed" });

      expect(() => ensureNatsIdentities(dataDir(), ["operator"])).toThrow(/a service named "operator"/);
    });
  });
});

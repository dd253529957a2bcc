import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { derivedEventId, newEventId } from "./index.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The 48-bit unix-ms timestamp of a UUIDv7, as hex. */
const timestampOf = (id: string): string => id.slice(0, 8) + id.slice(9, 13);
const v7 = fc.uuid({ version: 7 });
const cause = fc.oneof(v7, fc.uuid({ version: [4, 5] }), fc.string());
const purpose = fc.string({ minLength: 1 });

describe("newEventId", () => {
  it("is a UUIDv7 stamped with the current time", () => {
    const before = Date.now();
    const id = newEventId();
    expect(id).toMatch(UUID_V7);
    expect(parseInt(timestampOf(id), 16)).toBeGreaterThanOrEqual(before);
    expect(parseInt(timestampOf(id), 16)).toBeLessThanOrEqual(Date.now());
  });
});

describe("derivedEventId", () => {
  it("is a lowercase UUIDv7 with the RFC 4122 variant, whatever the cause", () => {
    fc.assert(fc.property(cause, purpose, (c, p) => void expect(derivedEventId(c, p)).toMatch(UUID_V7)));
  });

  it("is deterministic: the same cause and purpose give the same id", () => {
    fc.assert(
      fc.property(cause, purpose, (c, p) => void expect(derivedEventId(c, p)).toBe(derivedEventId(c, p))),
    );
    // Pinned: rebuild suppression and JetStream dedup compare ids across processes and releases.
    expect(derivedEventId("0190f5d2-8a4b-7c3d-9e2f-0123456789ab", "payment.charged")).toBe(
      "0190f5d2-8a4b-7f63-bf20-7c86a8f6cac6",
    );
    expect(derivedEventId("x", "y")).toBe("c90be374-60bc-7eb7-893a-983a0d4085a9");
  });

  it("gives distinct purposes of one cause distinct ids", () => {
    fc.assert(
      fc.property(cause, fc.uniqueArray(purpose, { minLength: 2, maxLength: 8 }), (c, ps) => {
        expect(new Set(ps.map((p) => derivedEventId(c, p))).size).toBe(ps.length);
      }),
    );
    // Joining cause and purpose with "/" would make these two collide.
    expect(derivedEventId("a/b", "c")).not.toBe(derivedEventId("a", "b/c"));
  });

  it("gives distinct causes distinct ids for one purpose", () => {
    fc.assert(
      fc.property(fc.uniqueArray(cause, { minLength: 2, maxLength: 8 }), purpose, (cs, p) => {
        expect(new Set(cs.map((c) => derivedEventId(c, p))).size).toBe(cs.length);
      }),
    );
  });

  it("takes the timestamp of a UUIDv7 cause, so it sorts next to it", () => {
    fc.assert(
      fc.property(v7, purpose, (c, p) => void expect(timestampOf(derivedEventId(c, p))).toBe(timestampOf(c))),
    );
    const c = newEventId();
    expect(timestampOf(derivedEventId(c, "inventory.reserved"))).toBe(timestampOf(c));
  });

  it("stamps every event of a cause that is no UUIDv7 with one timestamp hashed from the cause", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uuid({ version: [4, 5] }), fc.string()), purpose, purpose, (c, p, q) => {
        expect(timestampOf(derivedEventId(c, p))).toBe(timestampOf(derivedEventId(c, q)));
      }),
    );
    // The saga's deadline derives from `${orderId}:deadline`, not from an event id.
    const orderId = newEventId();
    expect(timestampOf(derivedEventId(`${orderId}:deadline`, "order.cancel.requested"))).toBe(
      timestampOf(derivedEventId(`${orderId}:deadline`, "inventory.release.requested")),
    );
  });
});

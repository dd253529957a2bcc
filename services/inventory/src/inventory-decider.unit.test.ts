import { describe, expect, it } from "vitest";
import {
  decide,
  evolve,
  isPublished,
  linesBySku,
  type InventoryCommand,
  type InventoryEvent,
  type InventoryState,
  type Reservation,
  type StockLevel,
} from "./inventory-decider.js";

const orderId = "o1";
const stockOf = (levels: Record<string, number | StockLevel>): InventoryState["stock"] =>
  new Map(
    Object.entries(levels).map(([sku, l]) => [
      sku,
      typeof l === "number" ? { available: l, reserved: 0 } : l,
    ]),
  );

const created = (items: { sku: string; quantity: number }[], id = orderId): InventoryCommand => ({
  name: "order.created",
  data: {
    orderId: id,
    customerId: "c1",
    items: items.map((l) => ({ ...l, unitPriceCents: 100 })),
    totalCents: 100 * items.reduce((n, l) => n + l.quantity, 0),
    currency: "USD",
  },
});
const release: InventoryCommand = {
  name: "inventory.release.requested",
  data: { orderId, reason: "order cancelled: payment declined" },
};
const approve: InventoryCommand = { name: "order.approve.requested", data: { orderId } };
const setStock = (sku: string, available: number): InventoryCommand => ({
  name: "set-stock",
  data: { sku, available },
});

/** given(stock, commands already applied).when(command).then(events, state after) */
function given(stock: Record<string, number | StockLevel>, ...history: InventoryCommand[]) {
  const before = history.reduce<InventoryState>((s, c) => decide(c, s).reduce(evolve, s), {
    stock: stockOf(stock),
  });
  return {
    before,
    when(command: InventoryCommand) {
      const events = decide(command, before);
      const after = events.reduce(evolve, before);
      return {
        then(
          expected: InventoryEvent[],
          state: { stock?: Record<string, StockLevel>; reservation?: Partial<Reservation> } = {},
        ) {
          expect(events).toEqual(expected);
          if (state.stock) expect(Object.fromEntries(after.stock)).toEqual(state.stock);
          if (state.reservation) expect(after.reservation).toMatchObject(state.reservation);
          return after;
        },
        nothing() {
          expect(events).toEqual([]);
          expect(after).toBe(before);
        },
      };
    },
  };
}

describe("inventory: reserving an order", () => {
  it("reserves every line when all are covered, one line per SKU (repeated SKUs summed)", () => {
    given({ a: 2, b: 3, c: 9 })
      .when(
        created([
          { sku: "b", quantity: 1 },
          { sku: "a", quantity: 2 },
          { sku: "b", quantity: 2 },
        ]),
      )
      .then(
        [
          {
            name: "inventory.reserved",
            data: {
              orderId,
              items: [
                { sku: "a", quantity: 2 },
                { sku: "b", quantity: 3 },
              ],
            },
          },
        ],
        {
          stock: {
            a: { available: 0, reserved: 2 },
            b: { available: 0, reserved: 3 },
            c: { available: 9, reserved: 0 },
          },
          reservation: { orderId, status: "reserved" },
        },
      );
  });

  it("reserves nothing when one line is short, naming that SKU; the stock is untouched", () => {
    given({ a: 5, b: 3 })
      .when(
        created([
          { sku: "a", quantity: 1 },
          { sku: "b", quantity: 4 },
        ]),
      )
      .then(
        [
          {
            name: "inventory.rejected",
            data: { orderId, sku: "b", reason: "insufficient stock for b: requested 4, available 3" },
          },
        ],
        {
          stock: { a: { available: 5, reserved: 0 }, b: { available: 3, reserved: 0 } },
          reservation: { status: "rejected", sku: "b" },
        },
      );
  });

  it("repeated lines of one SKU are judged by their sum, even when each line alone fits", () => {
    given({ b: 3 })
      .when(
        created([
          { sku: "b", quantity: 2 },
          { sku: "b", quantity: 2 },
        ]),
      )
      .then([
        {
          name: "inventory.rejected",
          data: { orderId, sku: "b", reason: "insufficient stock for b: requested 4, available 3" },
        },
      ]);
  });

  it("an unknown SKU has 0 available; with several short lines the first SKU is named", () => {
    given({ a: 1 })
      .when(
        created([
          { sku: "a", quantity: 1 },
          { sku: "zz", quantity: 1 },
        ]),
      )
      .then(
        [
          {
            name: "inventory.rejected",
            data: { orderId, sku: "zz", reason: "insufficient stock for zz: requested 1, available 0" },
          },
        ],
        { stock: { a: { available: 1, reserved: 0 } } },
      );
    const events = decide(
      created([
        { sku: "d", quantity: 9 },
        { sku: "c", quantity: 9 },
      ]),
      { stock: stockOf({ c: 1, d: 1 }) },
    );
    expect(events.map((e) => e.data)).toMatchObject([{ sku: "c" }]);
  });

  it("takes the last unit exactly, and stock held by other reservations is not available", () => {
    given({ a: 1 })
      .when(created([{ sku: "a", quantity: 1 }]))
      .then([{ name: "inventory.reserved", data: { orderId, items: [{ sku: "a", quantity: 1 }] } }], {
        stock: { a: { available: 0, reserved: 1 } },
      });
    given({ a: { available: 0, reserved: 1 } })
      .when(created([{ sku: "a", quantity: 1 }]))
      .then([
        {
          name: "inventory.rejected",
          data: { orderId, sku: "a", reason: "insufficient stock for a: requested 1, available 0" },
        },
      ]);
  });

  it("decides an order once: a repeated order.created changes nothing, reserved or rejected", () => {
    given({ a: 5 }, created([{ sku: "a", quantity: 1 }]))
      .when(created([{ sku: "a", quantity: 1 }]))
      .nothing();
    // Rejected, then restocked: still the same answer for that order.
    given({ a: 0 }, created([{ sku: "a", quantity: 1 }]), setStock("a", 10))
      .when(created([{ sku: "a", quantity: 1 }]))
      .nothing();
  });
});

describe("inventory: releasing a reservation", () => {
  it("given reserved, release → inventory.released with the reserved lines; the stock comes back", () => {
    given(
      { a: 2, b: 5 },
      created([
        { sku: "a", quantity: 2 },
        { sku: "b", quantity: 1 },
      ]),
    )
      .when(release)
      .then(
        [
          {
            name: "inventory.released",
            data: {
              orderId,
              items: [
                { sku: "a", quantity: 2 },
                { sku: "b", quantity: 1 },
              ],
            },
          },
        ],
        {
          stock: { a: { available: 2, reserved: 0 }, b: { available: 5, reserved: 0 } },
          reservation: { status: "released" },
        },
      );
  });

  it("only once, and never after a commit", () => {
    given({ a: 2 }, created([{ sku: "a", quantity: 2 }]), release)
      .when(release)
      .nothing();
    given({ a: 2 }, created([{ sku: "a", quantity: 2 }]), approve)
      .when(release)
      .nothing();
  });

  it("for another order's reservation or for a rejected order → nothing", () => {
    given({ a: 2 }, created([{ sku: "a", quantity: 1 }], "o2"))
      .when(release)
      .nothing();
    given({ a: 0 }, created([{ sku: "a", quantity: 1 }]))
      .when(release)
      .nothing();
  });
});

describe("inventory: a release request before its order (tombstone)", () => {
  it("given nothing about the order, release → a tombstone, published to nobody; the stock is untouched", () => {
    const after = given({ a: 2 })
      .when(release)
      .then([{ name: "tombstone.recorded", data: { orderId, reason: release.data.reason } }], {
        stock: { a: { available: 2, reserved: 0 } },
        reservation: { orderId, status: "tombstone" },
      });
    expect(decide(release, after).filter(isPublished)).toEqual([]);
  });

  it("given the tombstone, the order → rejected, naming its first SKU; nothing is reserved", () => {
    given({ a: 2, b: 2 }, release)
      .when(
        created([
          { sku: "b", quantity: 1 },
          { sku: "a", quantity: 1 },
        ]),
      )
      .then(
        [
          {
            name: "inventory.rejected",
            data: {
              orderId,
              sku: "a",
              reason: `release requested before the order was reserved (${release.data.reason})`,
            },
          },
        ],
        {
          stock: { a: { available: 2, reserved: 0 }, b: { available: 2, reserved: 0 } },
          reservation: { status: "rejected" },
        },
      );
  });

  it("a long release reason is clipped to what the rejection may carry", () => {
    const long: InventoryCommand = {
      name: "inventory.release.requested",
      data: { orderId, reason: "r".repeat(500) },
    };
    const [e] = decide(created([{ sku: "a", quantity: 1 }]), given({ a: 1 }, long).before);
    expect(e?.name === "inventory.rejected" && e.data.reason.length).toBe(500);
  });

  it("a second release, an approval, or the order again after the rejection → nothing", () => {
    given({ a: 2 }, release).when(release).nothing();
    given({ a: 2 }, release).when(approve).nothing();
    given({ a: 2 }, release, created([{ sku: "a", quantity: 1 }]))
      .when(created([{ sku: "a", quantity: 1 }]))
      .nothing();
    given({ a: 2 }, release, created([{ sku: "a", quantity: 1 }]))
      .when(release)
      .nothing();
  });

  it("an approval before its order leaves nothing behind: the saga approves only what it saw reserved", () => {
    given({ a: 2 }).when(approve).nothing();
  });
});

describe("inventory: committing a reservation", () => {
  it("given reserved, approve → inventory.committed; the stock leaves for good", () => {
    given({ a: 5 }, created([{ sku: "a", quantity: 2 }]))
      .when(approve)
      .then([{ name: "inventory.committed", data: { orderId, items: [{ sku: "a", quantity: 2 }] } }], {
        stock: { a: { available: 3, reserved: 0 } },
        reservation: { status: "committed" },
      });
  });

  it("only once, never after a release, never without a reservation", () => {
    given({ a: 5 }, created([{ sku: "a", quantity: 2 }]), approve)
      .when(approve)
      .nothing();
    given({ a: 5 }, created([{ sku: "a", quantity: 2 }]), release)
      .when(approve)
      .nothing();
    given({ a: 5 }).when(approve).nothing();
    given({ a: 0 }, created([{ sku: "a", quantity: 1 }]))
      .when(approve)
      .nothing();
  });
});

describe("inventory: setting stock", () => {
  it("sets what is available, creating the SKU, and keeps what is reserved", () => {
    given({})
      .when(setStock("new", 4))
      .then([{ name: "stock.set", data: { sku: "new", available: 4 } }], {
        stock: { new: { available: 4, reserved: 0 } },
      });
    given({ a: 5 }, created([{ sku: "a", quantity: 2 }]))
      .when(setStock("a", 10))
      .then([{ name: "stock.set", data: { sku: "a", available: 10 } }], {
        stock: { a: { available: 10, reserved: 2 } },
      });
  });

  it("the same value again → nothing", () => {
    given({ a: 5 }).when(setStock("a", 5)).nothing();
    // Zero for a SKU that does not exist yet creates it.
    expect(decide(setStock("a", 0), { stock: stockOf({}) })).toHaveLength(1);
  });
});

describe("linesBySku", () => {
  it("sums repeated SKUs and sorts by SKU", () => {
    expect(
      linesBySku([
        { sku: "b", quantity: 1 },
        { sku: "a", quantity: 1 },
        { sku: "b", quantity: 4 },
      ]),
    ).toEqual([
      { sku: "a", quantity: 1 },
      { sku: "b", quantity: 5 },
    ]);
  });
});

/** A small seeded generator: the run is the same every time, and a failure names its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe("inventory: many orders, commands shuffled and duplicated", () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 1))(
    "stock is conserved, never negative, and each order is decided once (seed %i)",
    (seed) => {
      const rnd = prng(seed);
      const skus = ["a", "b", "c"];
      const initial: Record<string, number> = { a: 6, b: 4, c: 9 };
      // The whole store: stock per SKU and a reservation per order, as the database holds them.
      let stock: InventoryState["stock"] = stockOf(initial);
      const reservations = new Map<string, Reservation>();
      const published: InventoryEvent[] = [];

      const commands: InventoryCommand[] = [];
      const released = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const id = `o${i}`;
        const lines = Array.from({ length: 1 + rnd(3) }, () => ({
          sku: skus[rnd(skus.length)]!,
          quantity: 1 + rnd(3),
        }));
        commands.push(created(lines, id), created(lines, id));
        const follow = rnd(3);
        if (follow === 0) {
          commands.push({ name: "inventory.release.requested", data: { orderId: id, reason: "x" } });
          released.add(id);
        }
        if (follow === 1) commands.push({ name: "order.approve.requested", data: { orderId: id } });
      }
      // Any order: a release that overtakes its order leaves a tombstone, and the order is rejected.
      const queue = commands.map((c) => ({ c, k: rnd(1_000_000) })).sort((x, y) => x.k - y.k);
      for (const { c } of queue) step(c);

      function step(c: InventoryCommand) {
        const id = c.name === "set-stock" ? undefined : c.data.orderId;
        const before: InventoryState = { stock, reservation: id ? reservations.get(id) : undefined };
        const events = decide(c, before);
        const after = events.reduce(evolve, before);
        stock = after.stock;
        if (id && after.reservation) reservations.set(id, after.reservation);
        published.push(...events.filter(isPublished));
        for (const [sku, l] of stock) {
          expect(l.available, `${sku} available (seed ${seed})`).toBeGreaterThanOrEqual(0);
          expect(l.reserved, `${sku} reserved (seed ${seed})`).toBeGreaterThanOrEqual(0);
        }
      }

      for (let i = 0; i < 30; i++) {
        const of = published
          .filter((e) => "orderId" in e.data && e.data.orderId === `o${i}`)
          .map((e) => e.name);
        expect(of.filter((n) => n === "inventory.reserved" || n === "inventory.rejected")).toHaveLength(1);
        expect(
          of.filter((n) => n === "inventory.released" || n === "inventory.committed").length,
        ).toBeLessThanOrEqual(1);
        if (of.includes("inventory.rejected")) expect(of).toEqual(["inventory.rejected"]);
        // Whatever the order of arrival, a requested release leaves nothing held.
        if (released.has(`o${i}`))
          expect(["released", "rejected"]).toContain(reservations.get(`o${i}`)?.status);
      }
      for (const sku of skus) {
        const sum = (status: Reservation["status"]) =>
          [...reservations.values()]
            .filter((r) => r.status === status)
            .flatMap((r) => ("items" in r ? r.items : []))
            .filter((l) => l.sku === sku)
            .reduce((n, l) => n + l.quantity, 0);
        const level = stock.get(sku)!;
        expect(level.reserved).toBe(sum("reserved"));
        expect(level.available + level.reserved + sum("committed")).toBe(initial[sku]);
      }
    },
  );
});

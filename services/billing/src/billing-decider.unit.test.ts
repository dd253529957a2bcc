import { describe, expect, it } from "vitest";
import {
  decide,
  evolve,
  isPublished,
  type BillingCommand,
  type BillingEvent,
  type BillingState,
  type Payment,
} from "./billing-decider.js";

const orderId = "o1";
const created = (totalCents: number, opts: { currency?: string; id?: string } = {}): BillingCommand => ({
  name: "order.created",
  data: {
    orderId: opts.id ?? orderId,
    customerId: "c1",
    items: [{ sku: "a", quantity: 1, unitPriceCents: totalCents }],
    totalCents,
    currency: opts.currency ?? "USD",
  },
});
const refund = (id = orderId): BillingCommand => ({
  name: "payment.refund.requested",
  data: { orderId: id, reason: "order cancelled: out of stock" },
});
const setBalance = (balanceCents: number): BillingCommand => ({
  name: "set-balance",
  data: { customerId: "c1", balanceCents },
});

/** given(balance or no account, commands already applied).when(command).then(events, state after) */
function given(balanceCents: number | undefined, ...history: BillingCommand[]) {
  const start: BillingState = {
    account: balanceCents === undefined ? undefined : { customerId: "c1", balanceCents },
  };
  const before = history.reduce((s, c) => decide(c, s).reduce(evolve, s), start);
  return {
    when(command: BillingCommand) {
      const events = decide(command, before);
      const after = events.reduce(evolve, before);
      return {
        then(
          expected: BillingEvent[],
          state: { balanceCents?: number; payment?: Partial<NonNullable<BillingState["payment"]>> } = {},
        ) {
          expect(events).toEqual(expected);
          if (state.balanceCents !== undefined) expect(after.account?.balanceCents).toBe(state.balanceCents);
          if (state.payment) expect(after.payment).toMatchObject(state.payment);
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

describe("billing: charging an order", () => {
  it("charges the total when the balance covers it", () => {
    given(500)
      .when(created(200))
      .then([{ name: "payment.charged", data: { orderId, customerId: "c1", amountCents: 200 } }], {
        balanceCents: 300,
        payment: { status: "charged", amountCents: 200 },
      });
  });

  it("down to exactly zero", () => {
    given(500)
      .when(created(500))
      .then([{ name: "payment.charged", data: { orderId, customerId: "c1", amountCents: 500 } }], {
        balanceCents: 0,
      });
  });

  it("a free order is charged nothing, even from an empty account", () => {
    given(0)
      .when(created(0))
      .then([{ name: "payment.charged", data: { orderId, customerId: "c1", amountCents: 0 } }], {
        balanceCents: 0,
      });
  });

  it("one cent short → declined with the reason; the balance is untouched", () => {
    given(500)
      .when(created(501))
      .then(
        [
          {
            name: "payment.declined",
            data: {
              orderId,
              customerId: "c1",
              amountCents: 501,
              reason: "insufficient funds: balance 500, total 501",
            },
          },
        ],
        { balanceCents: 500, payment: { status: "declined" } },
      );
  });

  it("no account counts as a balance of 0: declined, and no account is opened", () => {
    const after = given(undefined)
      .when(created(1))
      .then([
        {
          name: "payment.declined",
          data: {
            orderId,
            customerId: "c1",
            amountCents: 1,
            reason: "insufficient funds: balance 0, total 1",
          },
        },
      ]);
    expect(after.account).toBeUndefined();
  });

  it("no account and a free order: charged nothing, still no account, and a refund opens none", () => {
    const charged = given(undefined)
      .when(created(0))
      .then([{ name: "payment.charged", data: { orderId, customerId: "c1", amountCents: 0 } }]);
    expect(charged.account).toBeUndefined();
    const refunded = given(undefined, created(0))
      .when(refund())
      .then([{ name: "payment.refunded", data: { orderId, customerId: "c1", amountCents: 0 } }]);
    expect(refunded.account).toBeUndefined();
  });

  it("another currency → declined, whatever the balance", () => {
    given(10_000)
      .when(created(100, { currency: "EUR" }))
      .then(
        [
          {
            name: "payment.declined",
            data: { orderId, customerId: "c1", amountCents: 100, reason: "unsupported currency EUR" },
          },
        ],
        { balanceCents: 10_000 },
      );
  });

  it("decides an order once: charged or declined, a repeated order.created changes nothing", () => {
    given(500, created(200)).when(created(200)).nothing();
    // Declined, then topped up: still the same answer for that order.
    given(100, created(200), setBalance(1000)).when(created(200)).nothing();
  });
});

describe("billing: refunding", () => {
  it("given charged, refund → payment.refunded of the charge; the balance comes back", () => {
    given(500, created(200))
      .when(refund())
      .then([{ name: "payment.refunded", data: { orderId, customerId: "c1", amountCents: 200 } }], {
        balanceCents: 500,
        payment: { status: "refunded" },
      });
  });

  it("only once", () => {
    given(500, created(200), refund()).when(refund()).nothing();
  });

  it("never what was not charged: a declined order, another order's payment", () => {
    given(100, created(200)).when(refund()).nothing();
    given(500, created(200)).when(refund("other")).nothing();
  });

  it("refunds onto whatever the balance is now", () => {
    given(500, created(200), setBalance(50))
      .when(refund())
      .then([{ name: "payment.refunded", data: { orderId, customerId: "c1", amountCents: 200 } }], {
        balanceCents: 250,
      });
  });
});

describe("billing: a refund request before its order (tombstone)", () => {
  const reason = "order cancelled: out of stock";

  it("given nothing about the order, refund → a tombstone, published to nobody; the balance is untouched", () => {
    const after = given(500)
      .when(refund())
      .then([{ name: "tombstone.recorded", data: { orderId, reason } }], {
        balanceCents: 500,
        payment: { orderId, status: "tombstone", reason },
      });
    expect(decide(refund(), after).filter(isPublished)).toEqual([]);
  });

  it("given the tombstone, the order → declined, charging nothing, even when the balance covers it", () => {
    given(500, refund())
      .when(created(200))
      .then(
        [
          {
            name: "payment.declined",
            data: {
              orderId,
              customerId: "c1",
              amountCents: 200,
              reason: `refund requested before the order was charged (${reason})`,
            },
          },
        ],
        { balanceCents: 500, payment: { status: "declined" } },
      );
  });

  it("a long refund reason is clipped to what the decline may carry", () => {
    const long: BillingCommand = {
      name: "payment.refund.requested",
      data: { orderId, reason: "r".repeat(500) },
    };
    const before = [long].reduce<BillingState>((s, c) => decide(c, s).reduce(evolve, s), {
      account: undefined,
    });
    const [e] = decide(created(1), before);
    expect(e?.name === "payment.declined" && e.data.reason.length).toBe(500);
  });

  it("a second refund, or the order again after the decline → nothing", () => {
    given(500, refund()).when(refund()).nothing();
    given(500, refund(), created(200)).when(created(200)).nothing();
    given(500, refund(), created(200)).when(refund()).nothing();
  });
});

describe("billing: setting a balance", () => {
  it("opens an account or sets its balance; the same value again → nothing", () => {
    given(undefined)
      .when(setBalance(700))
      .then([{ name: "account.balance.set", data: { customerId: "c1", balanceCents: 700 } }], {
        balanceCents: 700,
      });
    given(700)
      .when(setBalance(0))
      .then([{ name: "account.balance.set", data: { customerId: "c1", balanceCents: 0 } }]);
    given(700).when(setBalance(700)).nothing();
    expect(decide(setBalance(0), {})).toHaveLength(1);
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

describe("billing: many orders of one customer, commands shuffled and duplicated", () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 1))(
    "the balance never goes negative and equals the start minus what stays charged (seed %i)",
    (seed) => {
      const rnd = prng(seed);
      const start = 1000;
      let account: BillingState["account"] = { customerId: "c1", balanceCents: start };
      const payments = new Map<string, NonNullable<BillingState["payment"]>>();
      const published: BillingEvent[] = [];
      const commands: BillingCommand[] = [];
      const refunded = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const c = created(50 + rnd(200), { id: `o${i}` });
        commands.push(c, c);
        if (rnd(2)) {
          commands.push(refund(`o${i}`), refund(`o${i}`));
          refunded.add(`o${i}`);
        }
      }
      for (const { c } of commands.map((c) => ({ c, k: rnd(1_000_000) })).sort((x, y) => x.k - y.k)) {
        const id = c.name === "set-balance" ? undefined : c.data.orderId;
        const before: BillingState = { account, payment: id ? payments.get(id) : undefined };
        const events = decide(c, before);
        const after = events.reduce(evolve, before);
        account = after.account;
        if (id && after.payment) payments.set(id, after.payment);
        published.push(...events.filter(isPublished));
        expect(account!.balanceCents, `seed ${seed}`).toBeGreaterThanOrEqual(0);
      }
      for (let i = 0; i < 30; i++) {
        const of = published
          .filter((e) => "orderId" in e.data && e.data.orderId === `o${i}`)
          .map((e) => e.name);
        expect(of.filter((n) => n === "payment.charged" || n === "payment.declined")).toHaveLength(1);
        expect(of.filter((n) => n === "payment.refunded").length).toBeLessThanOrEqual(1);
        if (of.includes("payment.refunded")) expect(of).toEqual(["payment.charged", "payment.refunded"]);
        // Whatever the order of arrival, a requested refund leaves nothing charged.
        if (refunded.has(`o${i}`)) expect(["refunded", "declined"]).toContain(payments.get(`o${i}`)?.status);
      }
      const stillCharged = [...payments.values()]
        .filter((p): p is Payment => p.status === "charged")
        .reduce((n, p) => n + p.amountCents, 0);
      expect(account!.balanceCents).toBe(start - stillCharged);
      expect(published.some((e) => e.name === "payment.declined")).toBe(true);
    },
  );
});

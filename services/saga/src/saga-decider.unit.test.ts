import { describe, expect, it } from "vitest";
import {
  commandsOf,
  decide,
  evolve,
  initialState,
  type SagaCommand,
  type SagaInput,
  type SagaState,
} from "./saga-decider.js";

const orderId = "o1";
const ev = {
  created: {
    name: "order.created",
    data: {
      orderId,
      customerId: "c1",
      items: [{ sku: "sku-rare", quantity: 5, unitPriceCents: 100 }],
      totalCents: 500,
      currency: "USD",
    },
  },
  reserved: { name: "inventory.reserved", data: { orderId, items: [{ sku: "sku-rare", quantity: 5 }] } },
  rejected: {
    name: "inventory.rejected",
    data: { orderId, sku: "sku-rare", reason: "insufficient stock for sku-rare: requested 5, available 1" },
  },
  released: { name: "inventory.released", data: { orderId, items: [{ sku: "sku-rare", quantity: 5 }] } },
  charged: { name: "payment.charged", data: { orderId, customerId: "c1", amountCents: 500 } },
  declined: {
    name: "payment.declined",
    data: {
      orderId,
      customerId: "c1",
      amountCents: 500,
      reason: "insufficient funds: balance 100, total 500",
    },
  },
  refunded: { name: "payment.refunded", data: { orderId, customerId: "c1", amountCents: 500 } },
  confirmed: { name: "order.confirmed", data: { orderId, customerId: "c1", totalCents: 500 } },
  cancelled: {
    name: "order.cancelled",
    data: { orderId, customerId: "c1", reason: "whatever the order service says" },
  },
  deadline: { name: "deadline", data: { orderId } },
} satisfies Record<string, SagaInput>;

const OUT_OF_STOCK = "out of stock: insufficient stock for sku-rare: requested 5, available 1";
const DECLINED = "payment declined: insufficient funds: balance 100, total 500";

/** Runs inputs through decide + evolve, as the store does, collecting every command sent. */
function run(
  inputs: readonly SagaInput[],
  from: SagaState = initialState(orderId),
): { state: SagaState; sent: SagaCommand[] } {
  let state = from;
  const sent: SagaCommand[] = [];
  for (const input of inputs) {
    const events = decide(input, state);
    sent.push(...commandsOf(orderId, events));
    state = events.reduce(evolve, state);
  }
  return { state, sent };
}

/** given(inputs already applied).when(input).then(commands sent by `input`, resulting state) */
function given(...history: SagaInput[]) {
  const before = run(history).state;
  return {
    when(...inputs: SagaInput[]) {
      const { state, sent } = run(inputs, before);
      return {
        then(expected: { sent: SagaCommand["name"][]; state?: Partial<SagaState> }) {
          expect(sent.map((c) => c.name)).toEqual(expected.sent);
          if (expected.state) expect(state).toMatchObject(expected.state);
          return { state, sent };
        },
      };
    },
  };
}

const reasonOf = (sent: SagaCommand[], name: SagaCommand["name"]) =>
  (sent.find((c) => c.name === name)?.data as { reason?: string } | undefined)?.reason;

/** Every distinct ordering of `items`. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const out: T[][] = [];
  const seen = new Set<T>();
  items.forEach((item, i) => {
    if (seen.has(item)) return;
    seen.add(item);
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
  });
  return out;
}

describe("saga: both steps succeed", () => {
  it.each(permutations([ev.created, ev.reserved, ev.charged]))(
    "in any order → one approve (%#)",
    (...inputs) => {
      given()
        .when(...inputs)
        .then({
          sent: ["order.approve.requested"],
          state: { status: "APPROVED", inventory: "RESERVED", payment: "CHARGED" },
        });
    },
  );

  it("given approved, when the order is confirmed → CONFIRMED, nothing sent", () => {
    given(ev.created, ev.reserved, ev.charged)
      .when(ev.confirmed)
      .then({ sent: [], state: { status: "CONFIRMED" } });
  });

  it("duplicated replies, before and after the decision → still one approve", () => {
    given()
      .when(ev.reserved, ev.reserved, ev.created, ev.charged, ev.created, ev.charged, ev.reserved)
      .then({ sent: ["order.approve.requested"], state: { status: "APPROVED" } });
  });

  it("given approved, when the deadline passes → nothing", () => {
    given(ev.created, ev.reserved, ev.charged)
      .when(ev.deadline)
      .then({ sent: [], state: { status: "APPROVED" } });
  });

  it("given approved, when a contradicting failure arrives → nothing", () => {
    given(ev.created, ev.reserved, ev.charged)
      .when(ev.rejected, ev.declined)
      .then({ sent: [], state: { inventory: "RESERVED", payment: "CHARGED" } });
  });

  it("learns the order's facts once, whenever order.created arrives", () => {
    const { state } = given(ev.reserved, ev.charged).when(ev.created, ev.created).then({ sent: [] });
    expect(state.order).toEqual({ customerId: "c1", totalCents: 500, currency: "USD" });
  });
});

describe("saga: out of stock", () => {
  it.each([
    [[ev.created, ev.rejected, ev.charged]],
    [[ev.created, ev.charged, ev.rejected]],
    [[ev.charged, ev.rejected, ev.created]],
  ])(
    "refunds the charge, and cancels once the refund is acknowledged, whichever reply comes first (%#)",
    (inputs) => {
      const { sent } = given()
        .when(...inputs)
        .then({
          sent: ["payment.refund.requested"],
          state: {
            status: "COMPENSATING",
            inventory: "REJECTED",
            payment: "REFUND_REQUESTED",
            reason: OUT_OF_STOCK,
            cancelRequested: false,
          },
        });
      expect(reasonOf(sent, "payment.refund.requested")).toBe(`order cancelled: ${OUT_OF_STOCK}`);
      const { sent: then } = given(...inputs)
        .when(ev.refunded)
        .then({ sent: ["order.cancel.requested"], state: { status: "COMPENSATING", cancelRequested: true } });
      expect(reasonOf(then, "order.cancel.requested")).toBe(OUT_OF_STOCK);
    },
  );

  it("given rejected, when inventory's rejection is duplicated → nothing more", () => {
    given(ev.created, ev.rejected)
      .when(ev.rejected, ev.rejected)
      .then({ sent: [], state: { status: "COMPENSATING" } });
  });

  it("given the refund requested, when the refund and then the cancellation are acknowledged → CANCELLED", () => {
    given(ev.created, ev.charged, ev.rejected)
      .when(ev.refunded)
      .then({ sent: ["order.cancel.requested"], state: { status: "COMPENSATING", payment: "REFUNDED" } });
    given(ev.created, ev.charged, ev.rejected, ev.refunded)
      .when(ev.cancelled)
      .then({ sent: [], state: { status: "CANCELLED" } });
    // A cancellation nobody asked for yet (another writer) is taken, and not asked for again.
    given(ev.created, ev.charged, ev.rejected, ev.cancelled)
      .when(ev.refunded)
      .then({ sent: [], state: { status: "CANCELLED" } });
  });
});

describe("saga: payment declined", () => {
  it.each([
    [[ev.created, ev.reserved, ev.declined]],
    [[ev.created, ev.declined, ev.reserved]],
    [[ev.declined, ev.created, ev.reserved]],
  ])("releases the reservation, and cancels once the release is acknowledged (%#)", (inputs) => {
    given()
      .when(...inputs)
      .then({
        sent: ["inventory.release.requested"],
        state: { status: "COMPENSATING", inventory: "RELEASE_REQUESTED", payment: "DECLINED" },
      });
    const { sent } = given(...inputs)
      .when(ev.released)
      .then({ sent: ["order.cancel.requested"], state: { inventory: "RELEASED" } });
    expect(reasonOf(sent, "order.cancel.requested")).toBe(DECLINED);
  });

  it("declined before inventory answered: waits for inventory, then releases and cancels", () => {
    given(ev.created, ev.declined)
      .when(ev.reserved)
      .then({
        sent: ["inventory.release.requested"],
        state: { status: "COMPENSATING", cancelRequested: false },
      });
    given(ev.created, ev.declined)
      .when(ev.deadline)
      .then({ sent: ["order.cancel.requested"], state: { inventory: "TIMED_OUT", reason: DECLINED } });
  });

  it("given the release requested, when released twice and the order cancelled → CANCELLED", () => {
    given(ev.created, ev.reserved, ev.declined)
      .when(ev.released, ev.released, ev.cancelled, ev.cancelled)
      .then({ sent: ["order.cancel.requested"], state: { status: "CANCELLED", inventory: "RELEASED" } });
  });
});

describe("saga: both fail", () => {
  it.each([[[ev.created, ev.rejected, ev.declined]], [[ev.created, ev.declined, ev.rejected]]])(
    "cancels with the first failure and compensates nothing (%#)",
    (inputs) => {
      const { sent } = given()
        .when(...inputs)
        .then({
          sent: ["order.cancel.requested"],
          state: { status: "COMPENSATING", inventory: "REJECTED", payment: "DECLINED" },
        });
      expect(reasonOf(sent, "order.cancel.requested")).toBe(
        inputs[1] === ev.rejected ? OUT_OF_STOCK : DECLINED,
      );
    },
  );

  it("given both failed, when the order is cancelled → CANCELLED at once", () => {
    given(ev.created, ev.rejected, ev.declined)
      .when(ev.cancelled)
      .then({ sent: [], state: { status: "CANCELLED" } });
  });

  it("never refunds without a charge nor releases without a reservation, even when asked to acknowledge them", () => {
    given(ev.created, ev.rejected, ev.declined)
      .when(ev.deadline, ev.released, ev.refunded)
      .then({ sent: [], state: { inventory: "REJECTED", payment: "DECLINED" } });
  });
});

describe("saga: deadline", () => {
  it("before any reply → cancel only, 'timed out waiting for inventory and payment'", () => {
    const { sent } = given(ev.created)
      .when(ev.deadline)
      .then({
        sent: ["order.cancel.requested"],
        state: { status: "COMPENSATING", inventory: "TIMED_OUT", payment: "TIMED_OUT" },
      });
    expect(reasonOf(sent, "order.cancel.requested")).toBe("timed out waiting for inventory and payment");
  });

  it("between the replies (inventory reserved) → release, then cancel, 'timed out waiting for payment'", () => {
    given(ev.created, ev.reserved)
      .when(ev.deadline)
      .then({
        sent: ["inventory.release.requested"],
        state: { inventory: "RELEASE_REQUESTED", payment: "TIMED_OUT" },
      });
    const { sent } = given(ev.created, ev.reserved, ev.deadline)
      .when(ev.released)
      .then({ sent: ["order.cancel.requested"] });
    expect(reasonOf(sent, "order.cancel.requested")).toBe("timed out waiting for payment");
  });

  it("between the replies (payment charged) → refund, then cancel, 'timed out waiting for inventory'", () => {
    given(ev.created, ev.charged)
      .when(ev.deadline)
      .then({
        sent: ["payment.refund.requested"],
        state: { inventory: "TIMED_OUT", payment: "REFUND_REQUESTED" },
      });
    const { sent } = given(ev.created, ev.charged, ev.deadline)
      .when(ev.refunded)
      .then({ sent: ["order.cancel.requested"] });
    expect(reasonOf(sent, "order.cancel.requested")).toBe("timed out waiting for inventory");
  });

  it("after both replies → nothing: the saga had decided", () => {
    given(ev.created, ev.reserved, ev.declined)
      .when(ev.deadline)
      .then({ sent: [], state: { reason: DECLINED } });
  });

  it("twice → decides once", () => {
    given(ev.created)
      .when(ev.deadline, ev.deadline)
      .then({ sent: ["order.cancel.requested"] });
  });

  it("given timed out, when the late success arrives → compensated, once", () => {
    given(ev.created, ev.reserved, ev.deadline)
      .when(ev.charged, ev.charged)
      .then({
        sent: ["payment.refund.requested"],
        state: {
          status: "COMPENSATING",
          payment: "REFUND_REQUESTED",
          reason: "timed out waiting for payment",
        },
      });
  });

  it("given timed out on both, when both late successes arrive → release and refund, once each", () => {
    const { sent } = given(ev.created, ev.deadline)
      .when(ev.reserved, ev.charged, ev.reserved, ev.charged)
      .then({ sent: ["inventory.release.requested", "payment.refund.requested"] });
    expect(reasonOf(sent, "payment.refund.requested")).toBe(
      "order cancelled: timed out waiting for inventory and payment",
    );
  });

  it("given timed out, when a late failure arrives → recorded, nothing sent", () => {
    given(ev.created, ev.deadline)
      .when(ev.rejected, ev.declined)
      .then({
        sent: [],
        state: {
          inventory: "REJECTED",
          payment: "DECLINED",
          reason: "timed out waiting for inventory and payment",
        },
      });
  });

  it("given cancelled and done, when a late success arrives → back to COMPENSATING until acknowledged", () => {
    given(ev.created, ev.reserved, ev.deadline, ev.released, ev.cancelled)
      .when(ev.charged)
      .then({ sent: ["payment.refund.requested"], state: { status: "COMPENSATING" } });
    given(ev.created, ev.reserved, ev.deadline, ev.released, ev.cancelled, ev.charged)
      .when(ev.refunded)
      .then({ sent: [], state: { status: "CANCELLED", inventory: "RELEASED", payment: "REFUNDED" } });
  });
});

describe("saga: inputs that do not apply", () => {
  it("order.confirmed or order.cancelled before a decision changes nothing", () => {
    given(ev.created)
      .when(ev.confirmed, ev.cancelled)
      .then({ sent: [], state: { status: "AWAITING", orderCancelled: false } });
  });

  it("a duplicate returns no events at all", () => {
    const state = run([ev.created, ev.reserved]).state;
    expect(decide(ev.reserved, state)).toEqual([]);
    expect(decide(ev.created, state)).toEqual([]);
  });
});

/**
 * Every interleaving of order.created, one inventory reply, one payment reply, a duplicate of each
 * reply and optionally the deadline, for each combination of outcomes, against an oracle.
 */
describe("saga: every interleaving", () => {
  const outcomes = [
    { inv: ev.reserved, pay: ev.charged },
    { inv: ev.reserved, pay: ev.declined },
    { inv: ev.rejected, pay: ev.charged },
    { inv: ev.rejected, pay: ev.declined },
  ];
  for (const { inv, pay } of outcomes) {
    for (const withDeadline of [false, true]) {
      it(`${inv.name} + ${pay.name}${withDeadline ? " + deadline" : ""}`, () => {
        const base: SagaInput[] = [ev.created, inv, pay, inv, pay, ...(withDeadline ? [ev.deadline] : [])];
        let cases = 0;
        for (const inputs of permutations(base)) {
          cases++;
          const { state, sent } = run(inputs);
          const count = (name: SagaCommand["name"]) => sent.filter((c) => c.name === name).length;

          // Oracle: the first failure or the deadline decides, unless both succeeded before it.
          const firstInv = inputs.indexOf(inv);
          const firstPay = inputs.indexOf(pay);
          const deadlineAt = withDeadline ? inputs.indexOf(ev.deadline) : Infinity;
          const repliedInTime = (i: number) => i < deadlineAt;
          const approved =
            inv === ev.reserved && pay === ev.charged && repliedInTime(firstInv) && repliedInTime(firstPay);
          const failures: [number, string][] = [];
          if (inv === ev.rejected && repliedInTime(firstInv)) failures.push([firstInv, OUT_OF_STOCK]);
          if (pay === ev.declined && repliedInTime(firstPay)) failures.push([firstPay, DECLINED]);
          if (!approved && withDeadline && (!repliedInTime(firstInv) || !repliedInTime(firstPay))) {
            const missing = [
              !repliedInTime(firstInv) && "inventory",
              !repliedInTime(firstPay) && "payment",
            ].filter(Boolean);
            failures.push([deadlineAt, `timed out waiting for ${missing.join(" and ")}`]);
          }
          failures.sort((a, b) => a[0] - b[0]);

          const ctx = inputs.map((i) => i.name).join(", ");
          // A success that came in time is compensated before the cancellation; one that came after
          // the deadline is compensated after it (the saga did not wait for it).
          const compensated =
            !approved &&
            ((inv === ev.reserved && repliedInTime(firstInv)) ||
              (pay === ev.charged && repliedInTime(firstPay)));
          expect(count("order.approve.requested"), ctx).toBe(approved ? 1 : 0);
          expect(count("inventory.release.requested"), ctx).toBe(!approved && inv === ev.reserved ? 1 : 0);
          expect(count("payment.refund.requested"), ctx).toBe(!approved && pay === ev.charged ? 1 : 0);
          // Compensate, then cancel: with a compensation in flight, the cancellation waits for its ack.
          expect(count("order.cancel.requested"), ctx).toBe(approved || compensated ? 0 : 1);
          // Acknowledgements (twice, in the order they can come) bring every saga to its terminal state.
          const acks: SagaInput[] = approved
            ? [ev.confirmed, ev.confirmed]
            : [ev.released, ev.refunded, ev.released, ev.refunded, ev.cancelled, ev.cancelled];
          const done = run(acks, state);
          expect(
            done.sent.map((c) => c.name),
            ctx,
          ).toEqual(compensated ? ["order.cancel.requested"] : []);
          if (!approved)
            expect(reasonOf([...sent, ...done.sent], "order.cancel.requested"), ctx).toBe(failures[0]?.[1]);
          expect(done.state.status, ctx).toBe(approved ? "CONFIRMED" : "CANCELLED");
        }
        expect(cases).toBe(withDeadline ? 180 : 30);
      });
    }
  }
});

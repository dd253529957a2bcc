import { describe, expect, it } from "vitest";
import { decide, initialState, type SagaCommand, type SagaInput, type SagaState } from "./decide.js";

const orderId = "o1";
const ev = {
  created: { name: "order.created", data: { orderId, customerId: "c", items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }], totalCents: 1, currency: "USD" } },
  reserved: { name: "inventory.reserved", data: { orderId, items: [{ sku: "a", quantity: 1 }] } },
  rejected: { name: "inventory.rejected", data: { orderId, sku: "a", reason: "insufficient stock for a" } },
  released: { name: "inventory.released", data: { orderId, items: [{ sku: "a", quantity: 1 }] } },
  charged: { name: "payment.charged", data: { orderId, customerId: "c", amountCents: 1 } },
  declined: { name: "payment.declined", data: { orderId, customerId: "c", amountCents: 1, reason: "insufficient funds" } },
  refunded: { name: "payment.refunded", data: { orderId, customerId: "c", amountCents: 1 } },
  confirmed: { name: "order.confirmed", data: { orderId, customerId: "c", totalCents: 1 } },
  cancelled: { name: "order.cancelled", data: { orderId, customerId: "c", reason: "x" } },
  deadline: { name: "deadline", data: { orderId } },
} satisfies Record<string, SagaInput>;

/** Given inputs in order, returns the final state and every command sent. */
function run(inputs: SagaInput[]): { state: SagaState; commands: SagaCommand[] } {
  let state = initialState(orderId);
  const commands: SagaCommand[] = [];
  for (const input of inputs) {
    const r = decide(input, state);
    state = r.state;
    commands.push(...r.commands);
  }
  return { state, commands };
}
const names = (cs: SagaCommand[]) => cs.map((c) => c.name).sort();

describe("saga decide", () => {
  it.each([
    [[ev.created, ev.reserved, ev.charged]],
    [[ev.created, ev.charged, ev.reserved]],
    [[ev.reserved, ev.charged, ev.created]],
    [[ev.charged, ev.created, ev.reserved, ev.charged, ev.reserved]],
  ])("both succeed in any order, with duplicates → one approve (%#)", (inputs) => {
    const { state, commands } = run(inputs);
    expect(names(commands)).toEqual(["order.approve.requested"]);
    expect(state).toMatchObject({ status: "APPROVING", inventory: "RESERVED", payment: "CHARGED" });
    expect(run([...inputs, ev.confirmed]).state.status).toBe("CONFIRMED");
  });

  it.each([
    [[ev.created, ev.rejected, ev.charged]],
    [[ev.created, ev.charged, ev.rejected]],
  ])("out of stock → refund the charge and cancel (%#)", (inputs) => {
    const { state, commands } = run(inputs);
    expect(names(commands)).toEqual(["order.cancel.requested", "payment.refund.requested"]);
    expect(state).toMatchObject({ status: "COMPENSATING", inventory: "REJECTED", payment: "REFUND_REQUESTED" });
    const cancel = commands.find((c) => c.name === "order.cancel.requested");
    expect(cancel?.data).toMatchObject({ reason: "out of stock: insufficient stock for a" });
    const done = run([...inputs, ev.refunded, ev.cancelled]).state;
    expect(done).toMatchObject({ status: "CANCELLED", payment: "REFUNDED" });
  });

  it.each([
    [[ev.reserved, ev.declined]],
    [[ev.declined, ev.reserved]],
  ])("declined → release the stock and cancel (%#)", (inputs) => {
    const { state, commands } = run(inputs);
    expect(names(commands)).toEqual(["inventory.release.requested", "order.cancel.requested"]);
    expect(state).toMatchObject({ inventory: "RELEASE_REQUESTED", payment: "DECLINED" });
  });

  it("both fail → cancel only, with both reasons", () => {
    const { commands } = run([ev.rejected, ev.declined]);
    expect(names(commands)).toEqual(["order.cancel.requested"]);
    expect(commands[0]?.data).toMatchObject({ reason: "out of stock: insufficient stock for a" });
  });

  it("deadline with one reply missing → compensate what succeeded, cancel; the late reply is compensated too", () => {
    const timedOut = run([ev.created, ev.reserved, ev.deadline]);
    expect(names(timedOut.commands)).toEqual(["inventory.release.requested", "order.cancel.requested"]);
    expect(timedOut.state).toMatchObject({ status: "COMPENSATING", payment: "TIMED_OUT" });
    expect(timedOut.commands.find((c) => c.name === "order.cancel.requested")?.data).toMatchObject({
      reason: "timed out waiting for payment",
    });
    const late = run([ev.created, ev.reserved, ev.deadline, ev.charged, ev.charged]);
    expect(names(late.commands)).toEqual(["inventory.release.requested", "order.cancel.requested", "payment.refund.requested"]);
  });

  it("deadline with nothing answered → cancel; both late successes compensated once", () => {
    const { state, commands } = run([ev.created, ev.deadline, ev.deadline, ev.reserved, ev.charged, ev.reserved]);
    expect(names(commands)).toEqual(["inventory.release.requested", "order.cancel.requested", "payment.refund.requested"]);
    expect(state).toMatchObject({ inventory: "RELEASE_REQUESTED", payment: "REFUND_REQUESTED" });
  });

  it("a deadline after the decision changes nothing", () => {
    const approved = run([ev.reserved, ev.charged]).state;
    expect(decide(ev.deadline, approved)).toEqual({ state: approved, commands: [] });
  });

  it("a late failure after approval changes nothing", () => {
    const approved = run([ev.reserved, ev.charged]).state;
    expect(decide(ev.declined, approved).commands).toEqual([]);
  });

  it("never refunds without a charge nor releases without a reservation", () => {
    const { commands } = run([ev.rejected, ev.declined, ev.deadline, ev.released, ev.refunded]);
    expect(names(commands)).toEqual(["order.cancel.requested"]);
  });
});

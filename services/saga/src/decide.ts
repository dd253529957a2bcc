import type { EventData, EventName } from "@orderflow/events";

/**
 * The saga of one order.
 *
 *   AWAITING ──both succeeded──► APPROVING ──order.confirmed──► CONFIRMED
 *      │
 *      └─any failed / deadline─► COMPENSATING ──order.cancelled──► CANCELLED
 *
 * Steps move PENDING → RESERVED|REJECTED|TIMED_OUT (inventory) and PENDING → CHARGED|DECLINED|TIMED_OUT
 * (payment); a step that succeeded when the saga fails moves on to RELEASE_REQUESTED → RELEASED or
 * REFUND_REQUESTED → REFUNDED. A success that arrives after the saga failed (even after a timeout)
 * is compensated the same way.
 */
export type SagaStatus = "AWAITING" | "APPROVING" | "CONFIRMED" | "COMPENSATING" | "CANCELLED";
export type InventoryStep = "PENDING" | "RESERVED" | "REJECTED" | "TIMED_OUT" | "RELEASE_REQUESTED" | "RELEASED";
export type PaymentStep = "PENDING" | "CHARGED" | "DECLINED" | "TIMED_OUT" | "REFUND_REQUESTED" | "REFUNDED";

export interface SagaState {
  readonly orderId: string;
  readonly status: SagaStatus;
  readonly inventory: InventoryStep;
  readonly payment: PaymentStep;
  /** Why a step failed, for the cancellation reason. */
  readonly failures: readonly string[];
}

export type SagaInput =
  | { [N in SagaEventName]: { name: N; data: EventData<N> } }[SagaEventName]
  | { name: "deadline"; data: { orderId: string } };

export type SagaEventName =
  | "order.created"
  | "inventory.reserved"
  | "inventory.rejected"
  | "inventory.released"
  | "payment.charged"
  | "payment.declined"
  | "payment.refunded"
  | "order.confirmed"
  | "order.cancelled";

export type SagaCommand =
  | { name: "order.approve.requested"; data: EventData<"order.approve.requested"> }
  | { name: "order.cancel.requested"; data: EventData<"order.cancel.requested"> }
  | { name: "inventory.release.requested"; data: EventData<"inventory.release.requested"> }
  | { name: "payment.refund.requested"; data: EventData<"payment.refund.requested"> };

export const initialState = (orderId: string): SagaState => ({
  orderId,
  status: "AWAITING",
  inventory: "PENDING",
  payment: "PENDING",
  failures: [],
});

const failed = (s: SagaState) => s.status === "COMPENSATING" || s.status === "CANCELLED";
const reasonOf = (s: SagaState) => s.failures.join("; ");

/**
 * Applies one input: records the reply, then decides. Returns the next state and the commands to
 * send. Pure and idempotent: a duplicate input leaves the state as it is and sends nothing.
 */
export function decide(input: SagaInput, state: SagaState): { state: SagaState; commands: SagaCommand[] } {
  let s = state;
  const commands: SagaCommand[] = [];
  const orderId = state.orderId;
  switch (input.name) {
    case "order.created":
    case "inventory.released":
      if (input.name === "inventory.released" && s.inventory === "RELEASE_REQUESTED") s = { ...s, inventory: "RELEASED" };
      break;
    case "payment.refunded":
      if (s.payment === "REFUND_REQUESTED") s = { ...s, payment: "REFUNDED" };
      break;
    case "inventory.reserved":
      if (s.inventory === "PENDING" || s.inventory === "TIMED_OUT") {
        if (failed(s)) {
          s = { ...s, inventory: "RELEASE_REQUESTED" };
          commands.push({ name: "inventory.release.requested", data: { orderId, reason: `order cancelled: ${reasonOf(s)}` } });
        } else s = { ...s, inventory: "RESERVED" };
      }
      break;
    case "inventory.rejected":
      if (s.inventory === "PENDING" || s.inventory === "TIMED_OUT") {
        s = { ...s, inventory: "REJECTED", failures: [...s.failures, `out of stock: ${input.data.reason}`] };
      }
      break;
    case "payment.charged":
      if (s.payment === "PENDING" || s.payment === "TIMED_OUT") {
        if (failed(s)) {
          s = { ...s, payment: "REFUND_REQUESTED" };
          commands.push({ name: "payment.refund.requested", data: { orderId, reason: `order cancelled: ${reasonOf(s)}` } });
        } else s = { ...s, payment: "CHARGED" };
      }
      break;
    case "payment.declined":
      if (s.payment === "PENDING" || s.payment === "TIMED_OUT") {
        s = { ...s, payment: "DECLINED", failures: [...s.failures, `payment declined: ${input.data.reason}`] };
      }
      break;
    case "deadline":
      if (s.status === "AWAITING") {
        const missing = [s.inventory === "PENDING" ? "inventory" : "", s.payment === "PENDING" ? "payment" : ""].filter(Boolean);
        if (missing.length) {
          s = {
            ...s,
            inventory: s.inventory === "PENDING" ? "TIMED_OUT" : s.inventory,
            payment: s.payment === "PENDING" ? "TIMED_OUT" : s.payment,
            failures: [...s.failures, `timed out waiting for ${missing.join(" and ")}`],
          };
        }
      }
      break;
    case "order.confirmed":
      if (s.status === "APPROVING") s = { ...s, status: "CONFIRMED" };
      break;
    case "order.cancelled":
      if (s.status === "COMPENSATING") s = { ...s, status: "CANCELLED" };
      break;
    default: {
      const never: never = input;
      return never;
    }
  }

  if (s.status === "AWAITING") {
    const inventoryFailed = s.inventory === "REJECTED" || s.inventory === "TIMED_OUT";
    const paymentFailed = s.payment === "DECLINED" || s.payment === "TIMED_OUT";
    if (inventoryFailed || paymentFailed) {
      // Compensate every step that succeeded; a step still pending is compensated when it answers.
      s = { ...s, status: "COMPENSATING" };
      if (s.inventory === "RESERVED") {
        s = { ...s, inventory: "RELEASE_REQUESTED" };
        commands.push({ name: "inventory.release.requested", data: { orderId, reason: `order cancelled: ${reasonOf(s)}` } });
      }
      if (s.payment === "CHARGED") {
        s = { ...s, payment: "REFUND_REQUESTED" };
        commands.push({ name: "payment.refund.requested", data: { orderId, reason: `order cancelled: ${reasonOf(s)}` } });
      }
      commands.push({ name: "order.cancel.requested", data: { orderId, reason: reasonOf(s) } });
    } else if (s.inventory === "RESERVED" && s.payment === "CHARGED") {
      s = { ...s, status: "APPROVING" };
      commands.push({ name: "order.approve.requested", data: { orderId } });
    }
  }
  return { state: s, commands };
}

export const sagaInputs: readonly EventName[] = [
  "order.created",
  "inventory.reserved",
  "inventory.rejected",
  "inventory.released",
  "payment.charged",
  "payment.declined",
  "payment.refunded",
  "order.confirmed",
  "order.cancelled",
];

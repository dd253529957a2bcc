import type { EventData } from "@orderflow/contracts";

/**
 * The saga of one order, as a pure decider: `decide(input, state)` says what happened (the reply
 * it learned and the decisions that follow), `evolve(state, event)` folds one of those events.
 *
 * ```
 *                 both steps succeeded                      order.confirmed
 *   AWAITING ─────────────────────────────► APPROVED ─────────────────────────► CONFIRMED
 *      │
 *      │ a step failed, or the deadline passed: compensate what succeeded; once both steps
 *      │ answered (or timed out) and every compensation is acknowledged, ask the order to cancel
 *      ▼                 order.cancelled and every compensation acknowledged
 *   COMPENSATING ────────────────────────────────────────────────────────────► CANCELLED
 *      ▲                                                                           │
 *      └─────────── a late success after the cancellation asks for its compensation ┘
 * ```
 *
 * Steps: inventory PENDING → RESERVED | REJECTED | TIMED_OUT → (RESERVED →) RELEASE_REQUESTED →
 * RELEASED; payment PENDING → CHARGED | DECLINED | TIMED_OUT → (CHARGED →) REFUND_REQUESTED →
 * REFUNDED. A step that timed out may still answer: a success is then compensated at once.
 * Every input is idempotent: one that teaches the saga nothing decides nothing.
 */
export type SagaStatus = "AWAITING" | "APPROVED" | "CONFIRMED" | "COMPENSATING" | "CANCELLED";
export type InventoryStep =
  "PENDING" | "RESERVED" | "REJECTED" | "TIMED_OUT" | "RELEASE_REQUESTED" | "RELEASED";
export type PaymentStep = "PENDING" | "CHARGED" | "DECLINED" | "TIMED_OUT" | "REFUND_REQUESTED" | "REFUNDED";
export type Step = "inventory" | "payment";

/** What the saga knows of the order itself, from `order.created`. */
export interface OrderFacts {
  readonly customerId: string;
  readonly totalCents: number;
  readonly currency: string;
}

export interface SagaState {
  readonly orderId: string;
  readonly status: SagaStatus;
  readonly inventory: InventoryStep;
  readonly payment: PaymentStep;
  /** Set once `order.created` reached the saga; replies may come first. */
  readonly order?: OrderFacts | undefined;
  /** The first failure: the cancellation reason. */
  readonly reason?: string | undefined;
  /** The order service was asked to cancel: once nothing was left to compensate. */
  readonly cancelRequested: boolean;
  /** The order service confirmed the cancellation. */
  readonly orderCancelled: boolean;
}

/** The events the saga reacts to. */
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

/** An input: a consumed event, or the deadline worker's tick for this saga. */
export type SagaInput =
  | { [N in SagaEventName]: { readonly name: N; readonly data: EventData<N> } }[SagaEventName]
  | { readonly name: "deadline"; readonly data: { readonly orderId: string } };

/** What happened to the saga: facts it learned and decisions it took. */
export type SagaEvent =
  | { readonly type: "OrderLearned"; readonly order: OrderFacts }
  | { readonly type: "InventoryReserved" }
  | { readonly type: "InventoryRejected"; readonly reason: string }
  | { readonly type: "InventoryReleased" }
  | { readonly type: "PaymentCharged" }
  | { readonly type: "PaymentDeclined"; readonly reason: string }
  | { readonly type: "PaymentRefunded" }
  | { readonly type: "RepliesTimedOut"; readonly missing: readonly Step[] }
  | { readonly type: "ApprovalRequested" }
  | { readonly type: "CancelDecided"; readonly reason: string }
  | { readonly type: "CancellationRequested"; readonly reason: string }
  | { readonly type: "ReleaseRequested"; readonly reason: string }
  | { readonly type: "RefundRequested"; readonly reason: string }
  | { readonly type: "OrderConfirmed" }
  | { readonly type: "OrderCancelled" }
  | { readonly type: "SagaCancelled" };

/** A message the saga sends: its decision to the order service, compensations to the others. */
export type SagaCommand =
  | { readonly name: "order.approve.requested"; readonly data: EventData<"order.approve.requested"> }
  | { readonly name: "order.cancel.requested"; readonly data: EventData<"order.cancel.requested"> }
  | { readonly name: "inventory.release.requested"; readonly data: EventData<"inventory.release.requested"> }
  | { readonly name: "payment.refund.requested"; readonly data: EventData<"payment.refund.requested"> };

export const initialState = (orderId: string): SagaState => ({
  orderId,
  status: "AWAITING",
  inventory: "PENDING",
  payment: "PENDING",
  cancelRequested: false,
  orderCancelled: false,
});

/** Reasons travel in events whose schema caps them at 500 characters. */
const MAX_REASON = 500;
const clip = (s: string) => (s.length <= MAX_REASON ? s : `${s.slice(0, MAX_REASON - 1)}…`);

/** Still waiting for this step's first answer, or it timed out and may yet answer. */
const open = (step: InventoryStep | PaymentStep) => step === "PENDING" || step === "TIMED_OUT";
const cancelDecided = (s: SagaState) => s.status === "COMPENSATING" || s.status === "CANCELLED";
const failed = (s: SagaState) =>
  s.inventory === "REJECTED" ||
  s.inventory === "TIMED_OUT" ||
  s.payment === "DECLINED" ||
  s.payment === "TIMED_OUT";
const reopen = (status: SagaStatus): SagaStatus => (status === "CANCELLED" ? "COMPENSATING" : status);
const compensationPending = (s: SagaState) =>
  s.inventory === "RESERVED" ||
  s.inventory === "RELEASE_REQUESTED" ||
  s.payment === "CHARGED" ||
  s.payment === "REFUND_REQUESTED";

/** The facts an input teaches; nothing when it is a duplicate, stale or contradicts what is known. */
function learn(input: SagaInput, s: SagaState): SagaEvent[] {
  switch (input.name) {
    case "order.created": {
      const { customerId, totalCents, currency } = input.data;
      return s.order ? [] : [{ type: "OrderLearned", order: { customerId, totalCents, currency } }];
    }
    case "inventory.reserved":
      return open(s.inventory) ? [{ type: "InventoryReserved" }] : [];
    case "inventory.rejected":
      return open(s.inventory)
        ? [{ type: "InventoryRejected", reason: clip(`out of stock: ${input.data.reason}`) }]
        : [];
    case "inventory.released":
      return s.inventory === "RELEASE_REQUESTED" ? [{ type: "InventoryReleased" }] : [];
    case "payment.charged":
      return open(s.payment) ? [{ type: "PaymentCharged" }] : [];
    case "payment.declined":
      return open(s.payment)
        ? [{ type: "PaymentDeclined", reason: clip(`payment declined: ${input.data.reason}`) }]
        : [];
    case "payment.refunded":
      return s.payment === "REFUND_REQUESTED" ? [{ type: "PaymentRefunded" }] : [];
    case "deadline": {
      // A failed saga waits for the other step too before it cancels: the deadline ends that wait.
      if (s.status !== "AWAITING" && s.status !== "COMPENSATING") return [];
      const missing: Step[] = [];
      if (s.inventory === "PENDING") missing.push("inventory");
      if (s.payment === "PENDING") missing.push("payment");
      return missing.length ? [{ type: "RepliesTimedOut", missing }] : [];
    }
    case "order.confirmed":
      return s.status === "APPROVED" ? [{ type: "OrderConfirmed" }] : [];
    case "order.cancelled":
      return cancelDecided(s) && !s.orderCancelled ? [{ type: "OrderCancelled" }] : [];
    default: {
      const never: never = input;
      return never;
    }
  }
}

/** The decisions the state now calls for. */
function react(state: SagaState): SagaEvent[] {
  let s = state;
  const out: SagaEvent[] = [];
  const push = (e: SagaEvent) => {
    out.push(e);
    s = evolve(s, e);
  };
  if (s.status === "AWAITING") {
    if (failed(s)) {
      // Compensate every step that succeeded; one still pending is compensated if it ever succeeds.
      const reason = s.reason ?? "order failed";
      push({ type: "CancelDecided", reason });
      if (s.inventory === "RESERVED")
        push({ type: "ReleaseRequested", reason: clip(`order cancelled: ${reason}`) });
      if (s.payment === "CHARGED")
        push({ type: "RefundRequested", reason: clip(`order cancelled: ${reason}`) });
    } else if (s.inventory === "RESERVED" && s.payment === "CHARGED") {
      push({ type: "ApprovalRequested" });
    }
  } else if (cancelDecided(s)) {
    // A success that arrives after the saga decided to cancel.
    const reason = clip(`order cancelled: ${s.reason ?? "order failed"}`);
    if (s.inventory === "RESERVED") push({ type: "ReleaseRequested", reason });
    if (s.payment === "CHARGED") push({ type: "RefundRequested", reason });
  }
  // Compensate, then cancel: the order is CANCELLED only once both steps answered (or timed out)
  // and its stock and money are back.
  if (
    s.status === "COMPENSATING" &&
    !s.cancelRequested &&
    !s.orderCancelled &&
    s.inventory !== "PENDING" &&
    s.payment !== "PENDING" &&
    !compensationPending(s)
  )
    push({ type: "CancellationRequested", reason: s.reason ?? "order failed" });
  if (s.status === "COMPENSATING" && s.orderCancelled && !compensationPending(s))
    push({ type: "SagaCancelled" });
  return out;
}

/**
 * What happens when `input` reaches a saga in `state`: the facts learned, then the decisions.
 * An input that teaches nothing returns `[]`.
 *
 * @example
 * const events = decide({ name: "payment.declined", data }, state);
 * const next = events.reduce(evolve, state);
 * const send = commandsOf(state.orderId, events); // release request and cancel request
 */
export function decide(input: SagaInput, state: SagaState): SagaEvent[] {
  const learned = learn(input, state);
  if (!learned.length) return [];
  return [...learned, ...react(learned.reduce(evolve, state))];
}

export function evolve(s: SagaState, e: SagaEvent): SagaState {
  switch (e.type) {
    case "OrderLearned":
      return { ...s, order: e.order };
    case "InventoryReserved":
      return { ...s, inventory: "RESERVED" };
    case "InventoryRejected":
      return { ...s, inventory: "REJECTED", reason: s.reason ?? e.reason };
    case "InventoryReleased":
      return { ...s, inventory: "RELEASED" };
    case "PaymentCharged":
      return { ...s, payment: "CHARGED" };
    case "PaymentDeclined":
      return { ...s, payment: "DECLINED", reason: s.reason ?? e.reason };
    case "PaymentRefunded":
      return { ...s, payment: "REFUNDED" };
    case "RepliesTimedOut":
      return {
        ...s,
        inventory: e.missing.includes("inventory") ? "TIMED_OUT" : s.inventory,
        payment: e.missing.includes("payment") ? "TIMED_OUT" : s.payment,
        reason: s.reason ?? `timed out waiting for ${e.missing.join(" and ")}`,
      };
    case "ApprovalRequested":
      return { ...s, status: "APPROVED" };
    case "CancelDecided":
      return { ...s, status: "COMPENSATING", reason: e.reason };
    case "CancellationRequested":
      return { ...s, cancelRequested: true };
    // A compensation requested after the saga was done reopens it until acknowledged.
    case "ReleaseRequested":
      return { ...s, status: reopen(s.status), inventory: "RELEASE_REQUESTED" };
    case "RefundRequested":
      return { ...s, status: reopen(s.status), payment: "REFUND_REQUESTED" };
    case "OrderConfirmed":
      return { ...s, status: "CONFIRMED" };
    case "OrderCancelled":
      return { ...s, orderCancelled: true };
    case "SagaCancelled":
      return { ...s, status: "CANCELLED" };
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The messages to send for the decisions among `events`, in order. */
export function commandsOf(orderId: string, events: readonly SagaEvent[]): SagaCommand[] {
  const out: SagaCommand[] = [];
  for (const e of events) {
    switch (e.type) {
      case "ApprovalRequested":
        out.push({ name: "order.approve.requested", data: { orderId } });
        break;
      case "CancellationRequested":
        out.push({ name: "order.cancel.requested", data: { orderId, reason: e.reason } });
        break;
      case "ReleaseRequested":
        out.push({ name: "inventory.release.requested", data: { orderId, reason: e.reason } });
        break;
      case "RefundRequested":
        out.push({ name: "payment.refund.requested", data: { orderId, reason: e.reason } });
        break;
      default:
        break;
    }
  }
  return out;
}

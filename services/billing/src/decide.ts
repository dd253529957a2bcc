import type { EventData } from "@orderflow/events";

/** Accounts hold one currency; an order in another is declined rather than charged blindly. */
export const ACCOUNT_CURRENCY = "USD";

export interface BillingState {
  /** The customer's balance; undefined when the account does not exist. */
  readonly balanceCents: number | undefined;
  readonly payment?: { state: "charged" | "declined" | "refunded"; customerId: string; amountCents: number };
}

export type BillingInput =
  | { name: "order.created"; data: EventData<"order.created"> }
  | { name: "payment.refund.requested"; data: EventData<"payment.refund.requested"> };

export type BillingEvent =
  | { name: "account.balance.set"; data: EventData<"account.balance.set"> }
  | { name: "payment.charged"; data: EventData<"payment.charged"> }
  | { name: "payment.declined"; data: EventData<"payment.declined"> }
  | { name: "payment.refunded"; data: EventData<"payment.refunded"> };

/** Charge only what the balance covers; refund only an existing charge, once. */
export function decide(input: BillingInput, state: BillingState): BillingEvent[] {
  switch (input.name) {
    case "order.created": {
      if (state.payment) return [];
      const { orderId, customerId, totalCents, currency } = input.data;
      const base = { orderId, customerId, amountCents: totalCents };
      const balance = state.balanceCents ?? 0;
      if (currency !== ACCOUNT_CURRENCY) {
        return [{ name: "payment.declined", data: { ...base, reason: `unsupported currency ${currency}` } }];
      }
      if (state.balanceCents === undefined) {
        return [{ name: "payment.declined", data: { ...base, reason: `no account for customer ${customerId}` } }];
      }
      if (balance < totalCents) {
        return [{ name: "payment.declined", data: { ...base, reason: `insufficient funds: balance ${balance}, total ${totalCents}` } }];
      }
      return [{ name: "payment.charged", data: base }];
    }
    case "payment.refund.requested": {
      const p = state.payment;
      return p?.state === "charged"
        ? [{ name: "payment.refunded", data: { orderId: input.data.orderId, customerId: p.customerId, amountCents: p.amountCents } }]
        : [];
    }
    default: {
      const never: never = input;
      return never;
    }
  }
}

export function evolve(state: BillingState, event: BillingEvent): BillingState {
  switch (event.name) {
    case "account.balance.set":
      return { ...state, balanceCents: event.data.balanceCents };
    case "payment.charged":
      return {
        balanceCents: (state.balanceCents ?? 0) - event.data.amountCents,
        payment: { state: "charged", customerId: event.data.customerId, amountCents: event.data.amountCents },
      };
    case "payment.declined":
      return { ...state, payment: { state: "declined", customerId: event.data.customerId, amountCents: event.data.amountCents } };
    case "payment.refunded":
      return {
        balanceCents: (state.balanceCents ?? 0) + event.data.amountCents,
        payment: { state: "refunded", customerId: event.data.customerId, amountCents: event.data.amountCents },
      };
    default: {
      const never: never = event;
      return never;
    }
  }
}

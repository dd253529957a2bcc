import type { EventData } from "@orderflow/contracts";

/** Accounts hold one currency; an order in another is declined rather than charged blindly. */
export const ACCOUNT_CURRENCY = "USD";

export interface Account {
  readonly customerId: string;
  /** Never negative. */
  readonly balanceCents: number;
}

/** What billing did about one order. */
export interface Payment {
  readonly orderId: string;
  readonly customerId: string;
  readonly amountCents: number;
  readonly status: "charged" | "declined" | "refunded";
}

/** A refund request that came before its order: the order, when it comes, is declined. */
export interface Tombstone {
  readonly orderId: string;
  readonly status: "tombstone";
  readonly reason: string;
}

/**
 * What a decision needs: the customer's account (undefined if none) and what billing knows of the
 * order — its payment, or a tombstone.
 */
export interface BillingState {
  readonly account?: Account | undefined;
  readonly payment?: Payment | Tombstone | undefined;
}

/** What billing is asked to do: the events it consumes, and the operator's `PUT /accounts/:customerId`. */
export type BillingCommand =
  | { readonly name: "order.created"; readonly data: EventData<"order.created"> }
  | { readonly name: "payment.refund.requested"; readonly data: EventData<"payment.refund.requested"> }
  | { readonly name: "set-balance"; readonly data: EventData<"account.balance.set"> };

/** The events billing publishes. */
export type PublishedBillingEvent =
  | { readonly name: "account.balance.set"; readonly data: EventData<"account.balance.set"> }
  | { readonly name: "payment.charged"; readonly data: EventData<"payment.charged"> }
  | { readonly name: "payment.declined"; readonly data: EventData<"payment.declined"> }
  | { readonly name: "payment.refunded"; readonly data: EventData<"payment.refunded"> };

/**
 * A refund request arrived for an order billing has not seen: kept locally so that the order, when
 * it comes, is declined instead of charged. Not published: no catalog event fits (`payment.*`
 * name a customer, which the request does not carry); see the README on rebuilds.
 */
export interface TombstoneRecorded {
  readonly name: "tombstone.recorded";
  readonly data: { readonly orderId: string; readonly reason: string };
}

/** Everything that changes billing's state; its state is their fold. */
export type BillingEvent = PublishedBillingEvent | TombstoneRecorded;

/** The names of the events billing publishes, which `orderflow rebuild` replays. */
export const billingEventNames: ReadonlySet<string> = new Set<PublishedBillingEvent["name"]>([
  "account.balance.set",
  "payment.charged",
  "payment.declined",
  "payment.refunded",
]);

export const isPublished = (e: BillingEvent): e is PublishedBillingEvent => e.name !== "tombstone.recorded";

/** Reasons travel in events whose schema caps them at 500 characters. */
const clip = (s: string) => (s.length <= 500 ? s : `${s.slice(0, 499)}…`);

/** Why the order cannot be charged; undefined when it can. A customer without an account has 0. */
function declineReason(order: EventData<"order.created">, account: Account | undefined): string | undefined {
  if (order.currency !== ACCOUNT_CURRENCY) return `unsupported currency ${order.currency}`;
  const balance = account?.balanceCents ?? 0;
  if (balance < order.totalCents) return `insufficient funds: balance ${balance}, total ${order.totalCents}`;
  return undefined;
}

/**
 * Charges an order's total once, only if the balance covers it; refunds only a charge, once. A
 * refund request for an order not seen yet leaves a tombstone, and the order, if it comes later, is
 * declined (so nothing is charged that nobody would ever refund).
 *
 * @example
 * const events = decide({ name: "order.created", data }, { account, payment: undefined });
 * const next = events.reduce(evolve, state); // balance lowered by the total, payment charged
 */
export function decide(command: BillingCommand, state: BillingState): BillingEvent[] {
  switch (command.name) {
    case "order.created": {
      const { orderId, customerId, totalCents } = command.data;
      const base = { orderId, customerId, amountCents: totalCents };
      const p = state.payment;
      if (p?.status === "tombstone" && p.orderId === orderId) {
        const reason = clip(`refund requested before the order was charged (${p.reason})`);
        return [{ name: "payment.declined", data: { ...base, reason } }];
      }
      if (p) return [];
      const reason = declineReason(command.data, state.account);
      return reason
        ? [{ name: "payment.declined", data: { ...base, reason } }]
        : [{ name: "payment.charged", data: base }];
    }
    case "payment.refund.requested": {
      const p = state.payment;
      if (!p) return [{ name: "tombstone.recorded", data: { ...command.data } }];
      return p.status === "charged" && p.orderId === command.data.orderId
        ? [
            {
              name: "payment.refunded",
              data: { orderId: p.orderId, customerId: p.customerId, amountCents: p.amountCents },
            },
          ]
        : [];
    }
    case "set-balance": {
      const { customerId, balanceCents } = command.data;
      return state.account?.balanceCents === balanceCents
        ? []
        : [{ name: "account.balance.set", data: { customerId, balanceCents } }];
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}

/** Folds one of billing's events: the live path after `decide` and `orderflow rebuild` both use it. */
export function evolve(state: BillingState, event: BillingEvent): BillingState {
  // Charging or refunding nothing to a customer without an account opens no account.
  const moveBalance = (customerId: string, delta: number): Account | undefined =>
    !state.account && delta === 0
      ? undefined
      : { customerId, balanceCents: (state.account?.balanceCents ?? 0) + delta };
  switch (event.name) {
    case "account.balance.set":
      return { ...state, account: { ...event.data } };
    case "payment.charged": {
      const { customerId, amountCents } = event.data;
      return {
        account: moveBalance(customerId, -amountCents),
        payment: { ...event.data, status: "charged" },
      };
    }
    case "payment.declined": {
      const { orderId, customerId, amountCents } = event.data;
      return { ...state, payment: { orderId, customerId, amountCents, status: "declined" } };
    }
    case "payment.refunded": {
      const { customerId, amountCents } = event.data;
      return {
        account: moveBalance(customerId, amountCents),
        payment: { ...event.data, status: "refunded" },
      };
    }
    case "tombstone.recorded":
      return { ...state, payment: { ...event.data, status: "tombstone" } };
    default: {
      const never: never = event;
      return never;
    }
  }
}

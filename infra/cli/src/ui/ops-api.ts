// The JSON the ops page's server answers and its browser code reads (web/src imports these types):
// types only, so that the browser build pulls in nothing else.

/** `GET /api/overview`: everything the page shows, read at `at`. */
export interface OpsOverview {
  readonly at: string;
  /** Newest first; null when the system has no order stream to follow (no `order.created` event). */
  readonly orders: readonly RecentOrder[] | null;
  readonly consumers: readonly ConsumerRow[];
  readonly outbox: readonly OutboxRow[];
  readonly deadLetters: { readonly total: number; readonly letters: readonly DeadLetterRow[] };
  /** A part that could not be read this time, one line each (`outbox billing: …`). */
  readonly errors: readonly string[];
}

export type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

/** An order as the ORDERS stream tells it (`order.created`, then `order.confirmed` / `order.cancelled`). */
export interface RecentOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly totalCents: number;
  readonly currency: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly createdAt: string;
  readonly status: OrderStatus;
  readonly reason?: string;
  /** `GET /sagas/:orderId` of the saga service; null while it has none (or there is no saga service). */
  readonly saga: SagaTimeline | null;
}

export interface SagaTimeline {
  readonly state: string;
  readonly steps: Readonly<Record<string, string>>;
  readonly reason?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly {
    readonly at: string;
    readonly event: string;
    readonly from: string;
    readonly to: string;
    readonly steps: Readonly<Record<string, string>>;
    /** The commands this transition sent (`payment.refund.requested` is a compensation). */
    readonly sent: readonly string[];
  }[];
}

export interface ConsumerRow {
  readonly stream: string;
  readonly consumer: string;
  readonly pending: number;
  readonly ackPending: number;
  readonly redelivered: number;
  /** pending + ack-pending. */
  readonly lag: number;
}

export type OutboxRow =
  | {
      readonly service: string;
      readonly backlog: number;
      readonly oldestUnpublishedMs: number | null;
      readonly retained: number;
    }
  | { readonly service: string; readonly error: string };

export interface DeadLetterRow {
  readonly id: number;
  readonly time: string;
  readonly consumer: string;
  readonly code: string;
  readonly reason: string;
  readonly subject: string;
  readonly deliveries: number;
  readonly eventId: string | undefined;
}

/** `POST /api/dead-letters/:id/redrive`: where the letter went back to. */
export interface RedriveAnswer {
  readonly id: number;
  readonly subject: string;
  readonly stream: string;
  readonly seq: number;
}

/** Every 4xx / 5xx, as the services answer them. */
export interface ErrorAnswer {
  readonly error: string;
  readonly issues: readonly { readonly path: string; readonly message: string }[];
}

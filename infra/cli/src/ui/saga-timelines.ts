import { request } from "../http.js";
import type { SagaTimeline } from "./ops-api.js";

/** Step states after which a cancelled saga changes no more (a timed-out step may still answer). */
const SETTLED_STEPS = new Set(["REJECTED", "DECLINED", "RELEASED", "REFUNDED"]);

/** A saga that will not change again: its timeline is not asked for twice. */
const settled = (s: SagaTimeline): boolean =>
  s.state === "CONFIRMED" ||
  (s.state === "CANCELLED" && Object.values(s.steps).every((step) => SETTLED_STEPS.has(step)));

/**
 * Each order's saga as the saga service tells it (`GET /sagas/:orderId`, its public HTTP API);
 * settled ones are kept, the others asked for again at each read.
 */
export class SagaTimelines {
  readonly #url: string;
  readonly #settled = new Map<string, SagaTimeline>();

  /** `sagaUrl`: the saga service's base URL. */
  constructor(sagaUrl: string) {
    this.#url = sagaUrl;
  }

  /** By order id; an order the saga has not seen yet is absent. Throws when the service cannot be reached. */
  async read(orderIds: readonly string[]): Promise<Map<string, SagaTimeline>> {
    const out = new Map<string, SagaTimeline>();
    await Promise.all(
      orderIds.map(async (id) => {
        const kept = this.#settled.get(id);
        if (kept) {
          out.set(id, kept);
          return;
        }
        const res = await request<SagaTimeline>(
          "GET",
          `${this.#url}/sagas/${encodeURIComponent(id)}`,
          undefined,
          {
            timeoutMs: 2000,
          },
        );
        if (res.status === 404) return;
        if (res.status !== 200) throw new Error(`GET /sagas/${id} answered ${res.status}`);
        const { state, steps, reason, createdAt, updatedAt, history } = res.body;
        const saga = { state, steps, ...(reason ? { reason } : {}), createdAt, updatedAt, history };
        out.set(id, saga);
        if (settled(saga)) this.#settled.set(id, saga);
      }),
    );
    // Only what is still listed stays cached.
    for (const id of this.#settled.keys()) if (!orderIds.includes(id)) this.#settled.delete(id);
    return out;
  }
}

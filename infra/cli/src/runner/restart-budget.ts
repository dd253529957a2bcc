/** A service (or server) that dies after the start is restarted, unless it died this often within the window. */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 60_000;

/**
 * How often a service may be started again after dying: not when it died MAX_RESTARTS times within
 * RESTART_WINDOW_MS (a crash loop is a bug to see, so everything stops as on a startup failure).
 */
export class RestartBudget {
  readonly #deaths = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /** Counts a death of `name`; whether it may be restarted. */
  mayRestart(name: string): boolean {
    const now = this.#now();
    const recent = (this.#deaths.get(name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    recent.push(now);
    this.#deaths.set(name, recent);
    return recent.length <= MAX_RESTARTS;
  }
}

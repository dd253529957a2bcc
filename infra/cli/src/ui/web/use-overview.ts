import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { OpsOverview } from "../ops-api.js";
import { failure } from "./format.js";

export interface OverviewState {
  readonly overview: OpsOverview | undefined;
  /** When the last answer came (ms since epoch). */
  readonly receivedAt: number | undefined;
  /** Why the last poll failed; undefined once one succeeds. */
  readonly error: string | undefined;
  /** Polls now, instead of at the next tick. */
  readonly refresh: () => void;
}

/** `GET /api/overview`, polled every `intervalMs` while the page is open. */
export function useOverview(intervalMs: number): OverviewState {
  const [state, setState] = useState<Omit<OverviewState, "refresh">>({
    overview: undefined,
    receivedAt: undefined,
    error: undefined,
  });
  const timer = useRef<number | undefined>(undefined);
  const poll = useRef<() => Promise<void>>(async () => {});

  useEffect(() => {
    let stopped = false;
    poll.current = async () => {
      window.clearTimeout(timer.current);
      try {
        const res = await fetch("/api/overview", { cache: "no-store" });
        if (!res.ok) throw new Error(await failure(res));
        const overview = (await res.json()) as OpsOverview;
        if (!stopped) setState({ overview, receivedAt: Date.now(), error: undefined });
      } catch (err) {
        if (!stopped) setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err) }));
      }
      if (!stopped) timer.current = window.setTimeout(() => void poll.current(), intervalMs);
    };
    void poll.current();
    return () => {
      stopped = true;
      window.clearTimeout(timer.current);
    };
  }, [intervalMs]);

  const refresh = useCallback(() => void poll.current(), []);
  return { ...state, refresh };
}

import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";

export interface LanesOptions {
  /** Lanes, each applying one batch at a time. */
  readonly concurrency: number;
  /** Most messages a lane takes at once. */
  readonly batchSize: number;
  /** Applies, acks or retries every message of a batch; only throws on a bug in the runtime. */
  readonly apply: (batch: readonly JsMsg[]) => Promise<void>;
  readonly logger?: Logger | undefined;
}

/**
 * Messages of every stream wait in their lane's queue; a lane takes whatever has queued while it
 * was busy (up to `batchSize`), so batches form under load and a lone message goes alone at once.
 * The messages of one correlation id share a lane, so they are applied in order.
 */
export interface Lanes {
  push(m: JsMsg): void;
  /** Resolves once nothing is queued and no lane is applying. */
  settled(): Promise<void>;
}

/** The lane of a correlation id: a string hash, stable across processes. */
export function laneIndex(correlationId: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < correlationId.length; i++) h = (Math.imul(h, 31) + correlationId.charCodeAt(i)) | 0;
  return (h >>> 0) % lanes;
}

export function createLanes(opts: LanesOptions): Lanes {
  const { concurrency, batchSize } = opts;
  const lanes = Array.from({ length: concurrency }, () => ({ queue: [] as JsMsg[], busy: false }));
  let queued = 0;
  let scheduled = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const isSettled = () => queued === 0 && lanes.every((l) => !l.busy);
  const laneOf = (m: JsMsg) =>
    lanes[concurrency === 1 ? 0 : laneIndex(m.headers?.get("ce-correlationid") ?? "", concurrency)]!;

  function dispatch(): void {
    scheduled = false;
    for (const lane of lanes) {
      if (lane.busy || !lane.queue.length) continue;
      lane.busy = true;
      const batch = lane.queue.splice(0, batchSize);
      queued -= batch.length;
      opts
        .apply(batch)
        .catch((err: unknown) => {
          // Only reached on a bug in the runtime itself; the messages are redelivered after ack_wait.
          opts.logger?.error({ err: describeError(err) }, "batch processing crashed");
        })
        .finally(() => {
          lane.busy = false;
          if (lane.queue.length) schedule();
          wake();
        });
    }
  }
  // Deferred to the next turn of the event loop so that a lane takes everything one read delivered.
  function schedule(): void {
    if (!scheduled) {
      scheduled = true;
      setImmediate(dispatch);
    }
  }

  return {
    push(m) {
      laneOf(m).queue.push(m);
      queued++;
      schedule();
    },
    async settled() {
      while (!isSettled()) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

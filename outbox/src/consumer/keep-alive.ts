import type { JsMsg } from "@nats-io/jetstream";

/**
 * Every message received and not yet acked, nak'ed or terminated, with when it was last kept
 * alive: one that waits in a lane or in a long transaction gets `+WPI` before its ack_wait ends,
 * or JetStream would deliver it again while it is still ours (and count a delivery it never had).
 */
export interface KeepAlive {
  hold(m: JsMsg): void;
  release(m: JsMsg): void;
  /** Starts the timer that keeps held messages alive (idempotent). */
  start(): void;
  stop(): void;
}

export function createKeepAlive(ackWaitMs: number): KeepAlive {
  const held = new Map<JsMsg, number>();
  let timer: NodeJS.Timeout | undefined;
  const keepHeldAlive = () => {
    const due = Date.now() - ackWaitMs / 3;
    for (const [m, at] of held) {
      if (at > due) continue;
      m.working();
      held.set(m, Date.now());
    }
  };
  return {
    hold: (m) => void held.set(m, Date.now()),
    release: (m) => void held.delete(m),
    start() {
      timer ??= setInterval(keepHeldAlive, Math.max(50, ackWaitMs / 6)).unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

import type { Consumer, Relay } from "@orderflow/outbox";
import type { Logger } from "pino";

/** A service's relay and consumer, which recovery tooling can pause and resume. */
export interface Messaging {
  readonly relay: Relay;
  readonly consumer: Consumer | undefined;
  readonly paused: boolean;
  start(): Promise<void>;
  /** Stops consuming and lets the relay publish what is committed (10 s at most), then stops it. */
  pause(): Promise<void>;
  /** Starts a fresh relay and consumer after a pause. */
  resume(): Promise<void>;
  /** Consumers finish in-flight work, then the relay stops. */
  stop(): Promise<void>;
}

const PAUSE_DRAIN_MS = 10_000;

export function createMessaging(make: {
  readonly relay: () => Relay;
  readonly consumer: () => Consumer | undefined;
  readonly logger: Logger;
}): Messaging {
  // Replaced on resume: a stopped relay or consumer is not started again.
  let relay = make.relay();
  let consumer = make.consumer();
  let paused = false;
  return {
    get relay() {
      return relay;
    },
    get consumer() {
      return consumer;
    },
    get paused() {
      return paused;
    },
    async start() {
      relay.start();
      await consumer?.start();
    },
    async pause() {
      if (paused) return;
      paused = true;
      await consumer?.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([relay.idle(), new Promise((r) => (timer = setTimeout(r, PAUSE_DRAIN_MS)))]);
      clearTimeout(timer);
      await relay.stop();
      make.logger.warn("paused by control request");
    },
    async resume() {
      if (!paused) return;
      relay = make.relay();
      relay.start();
      consumer = make.consumer();
      await consumer?.start();
      paused = false;
      make.logger.warn("resumed by control request");
    },
    async stop() {
      await consumer?.stop();
      await relay.stop();
    },
  };
}

import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { describeError } from "../errors.js";
import type { Durable } from "./durables.js";

export interface DurableReaderOptions {
  readonly durable: Durable;
  readonly js: Pick<JetStreamClient, "consumers">;
  /** Messages asked for per pull. */
  readonly maxMessages: number;
  /** Takes each message as it arrives; must never block (what stays in the client's buffer cannot be kept alive). */
  readonly receive: (m: JsMsg) => void;
  readonly logger?: Logger | undefined;
}

export interface DurableReader {
  /** False once reading has stopped on an error. */
  readonly live: boolean;
  /** Stops pulling; resolves once the last message read was handed to `receive`. */
  stop(): Promise<void>;
}

/** Pulls from one durable and hands every message over. */
export function startDurableReader(opts: DurableReaderOptions): DurableReader {
  const { durable: d } = opts;
  let live = true;
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  const reading = (async () => {
    const c = await opts.js.consumers.get(d.stream, d.consumer);
    messages = await c.consume({ max_messages: opts.maxMessages });
    if (stopped) await messages.close();
    for await (const m of messages) opts.receive(m);
  })().catch((err: unknown) => {
    live = false;
    opts.logger?.error({ err: describeError(err), stream: d.stream }, "consumer stopped");
  });
  return {
    get live() {
      return live;
    },
    async stop() {
      stopped = true;
      await messages?.close();
      await reading;
    },
  };
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** Signals this close to the first one are copies of it, not a second Ctrl-C. */
const SAME_SIGNAL_MS = 300;

export interface StopSignalsOptions {
  readonly out: (line: string) => void;
  /** The first signal: stop gracefully. */
  readonly stop: (signal: NodeJS.Signals) => void;
  /** A later one: force. */
  readonly force: () => void;
}

/**
 * Listens for SIGINT, SIGTERM and SIGHUP: the first asks for a graceful stop, a second one forces.
 * Returns the function that stops listening.
 */
export function onStopSignals(opts: StopSignalsOptions): () => void {
  let firstAt: number | undefined;
  let forced = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C under `npm start` arrives twice: from the terminal, and forwarded by npm.
    if (firstAt !== undefined && Date.now() - firstAt < SAME_SIGNAL_MS) return;
    if (firstAt === undefined) {
      firstAt = Date.now();
      opts.out(`orderflow: ${signal}, stopping gracefully (again to force)`);
      opts.stop(signal);
    } else if (!forced) {
      forced = true;
      opts.out(`orderflow: ${signal} again, forcing`);
      opts.force();
    }
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}

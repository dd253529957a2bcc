import type { IncomingMessage } from "node:http";
import { register } from "node:module";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { createAddHookMessageChannel } from "import-in-the-middle";
import { HOOKS_INSTALLED } from "./configured.js";

/** The statement's first keyword after any leading comment (the outbox marks deferred ones with one). */
const OPERATION = /^\s*(?:\/\*[\s\S]*?\*\/\s*)?([A-Za-z]+)/;

/** Polled by runners and Prometheus: spans of these would be noise, each a trace of its own. */
const UNTRACED = /^\/(healthz|readyz|metrics)(\/|\?|$)/;

/**
 * Installs the HTTP and PostgreSQL instrumentations. They patch modules as they are loaded: `pg`
 * is CommonJS imported from ESM (the outbox), which only an ESM loader hook sees, so
 * import-in-the-middle's hook is registered first, intercepting only the modules an
 * instrumentation asked for; `node:http` (required by Fastify) is caught by require-in-the-middle.
 * They record through the global tracer provider, which `startTracing` sets once the service's name
 * is known; until then their spans are no-ops.
 */
export async function instrument(): Promise<void> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED.test(req.url ?? ""),
      }),
      // Only queries within a trace: the relay's polls and the consumers' idle reads are not.
      new PgInstrumentation({
        requireParentSpan: true,
        ignoreConnectSpans: true,
        // Named after the SQL operation, not a prepared statement's name (`orderflow_3`) or a comment.
        requestHook: (span, { query, connection }) => {
          const op = OPERATION.exec(query.text)?.[1]?.toUpperCase();
          if (op) span.updateName(`pg.query:${op}${connection.database ? ` ${connection.database}` : ""}`);
        },
      }),
    ],
  });
  await waitForAllMessagesAcknowledged();
  (globalThis as Record<symbol, unknown>)[HOOKS_INSTALLED] = true;
}

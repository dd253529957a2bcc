import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { tracingConfigured } from "@orderflow/host";
import type { ServicePlan } from "./up-config.js";

/**
 * How a service is started when the runner's environment configures tracing (`OTEL_*`): with the
 * host's tracing hooks loaded before it (`--import @orderflow/host/tracing`, so that its HTTP and
 * PostgreSQL calls are traced) and its own `service.name` (one OTEL_SERVICE_NAME cannot name four
 * services). Otherwise as it is: nothing is loaded.
 */
export function tracedStart(
  plan: ServicePlan,
  env: NodeJS.ProcessEnv,
): { readonly nodeArgs: string[]; readonly env: NodeJS.ProcessEnv } {
  if (!tracingConfigured(env)) return { nodeArgs: [], env };
  return {
    nodeArgs: [
      "--import",
      pathToFileURL(createRequire(import.meta.url).resolve("@orderflow/host/tracing")).href,
    ],
    env: { ...env, OTEL_SERVICE_NAME: plan.service.name },
  };
}

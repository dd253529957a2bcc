/**
 * Whether the environment asks for traces: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or a traces exporter (`OTEL_TRACES_EXPORTER`, e.g.
 * `console`), and the SDK not disabled (`OTEL_SDK_DISABLED`). When it does not, no SDK is loaded.
 */
export function tracingConfigured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (exporters.length) return exporters.some((e) => e !== "none");
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Set once the instrumentation hooks are in place (see register.ts). */
export const HOOKS_INSTALLED = Symbol.for("orderflow.tracing.hooks");

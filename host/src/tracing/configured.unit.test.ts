import { ProxyTracerProvider, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { tracingConfigured } from "./configured.js";
import { startTracing, tracedLoggerOptions } from "./tracing.js";

describe("tracingConfigured", () => {
  it.each([
    [{}, false],
    [{ OTEL_SERVICE_NAME: "order", OTEL_TRACES_SAMPLER: "always_on" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "  " }, false],
    [{ OTEL_TRACES_EXPORTER: "console" }, true],
    [{ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, false],
    [{ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, false],
    [{ OTEL_SDK_DISABLED: "false", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, true],
  ])("%j → %s", (env, expected) => {
    expect(tracingConfigured(env)).toBe(expected);
  });
});

describe("tracing unconfigured", () => {
  it("starts no SDK and adds nothing to log lines", async () => {
    expect(tracingConfigured()).toBe(false);
    const tracing = await startTracing("order", pino({ level: "silent" }));
    const provider = trace.getTracerProvider();
    expect(provider).toBeInstanceOf(ProxyTracerProvider);
    // No tracer provider was registered: the API's no-op one stands behind the proxy.
    expect((provider as ProxyTracerProvider).getDelegate().constructor.name).toBe("NoopTracerProvider");
    await expect(tracing.flush()).resolves.toBeUndefined();
    expect(tracedLoggerOptions()).toEqual({});
  });
});

import { context, isSpanContextValid, ProxyTracerProvider, trace } from "@opentelemetry/api";
import { getRPCMetadata, RPCType } from "@opentelemetry/core";
import type { FastifyInstance } from "fastify";
import type { Logger, LoggerOptions } from "pino";
import { HOOKS_INSTALLED, tracingConfigured } from "./configured.js";

/** A service's side of tracing, a no-op unless the environment configures it. */
export interface Tracing {
  /** Names each HTTP server span after its route (`POST /orders/:orderId`, attribute `http.route`). */
  instrumentHttp(app: FastifyInstance): void;
  /** Exports the spans still buffered, e.g. before the process exits. */
  flush(): Promise<void>;
}

const OFF: Tracing = { instrumentHttp: () => {}, flush: async () => {} };
let started: Promise<Tracing> | undefined;

/**
 * Starts the OpenTelemetry Node SDK once per process when `OTEL_*` configure tracing (see
 * `tracingConfigured`), from the standard variables: exporter and protocol
 * (`OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf` by default, `http/json`, `grpc`), sampler
 * (`OTEL_TRACES_SAMPLER`, parent-based always-on by default: root traces are sampled), batching
 * (`OTEL_BSP_*`). `service.name` is `OTEL_SERVICE_NAME`, else `serviceName`. Traces only: metrics
 * stay on /metrics, and the SDK's metrics and logs exporters start only when their own
 * `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER` ask for them. Unconfigured, nothing is loaded.
 */
export function startTracing(serviceName: string, logger: Logger): Promise<Tracing> {
  if (!tracingConfigured()) return Promise.resolve(OFF);
  return (started ??= start(serviceName, logger));
}

async function start(serviceName: string, logger: Logger): Promise<Tracing> {
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const env = process.env;
  new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName }),
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
  }).start();
  const hooks = (globalThis as Record<symbol, unknown>)[HOOKS_INSTALLED] === true;
  logger.info(
    {
      serviceName: env.OTEL_SERVICE_NAME ?? serviceName,
      endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT,
      protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
      sampler: env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on",
    },
    "tracing: exporting spans",
  );
  if (!hooks)
    logger.warn(
      "tracing without `node --import @orderflow/host/tracing`: messaging spans only, no HTTP or database spans",
    );
  return {
    instrumentHttp: (app) =>
      app.addHook("onRequest", (req, _reply, done) => {
        // The HTTP instrumentation names the server span after this route when the response ends.
        const rpc = getRPCMetadata(context.active());
        if (rpc?.type === RPCType.HTTP) rpc.route = req.routeOptions.url;
        done();
      }),
    flush: async () => {
      const provider = trace.getTracerProvider();
      const sdk = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
      await (sdk as { forceFlush?: () => Promise<void> }).forceFlush?.();
    },
  };
}

/** pino options that put the active span's `trace_id`, `span_id` and `trace_flags` on every log line. */
export function tracedLoggerOptions(): Pick<LoggerOptions, "mixin"> {
  if (!tracingConfigured()) return {};
  return {
    mixin: () => {
      const sc = trace.getSpanContext(context.active());
      return sc && isSpanContextValid(sc)
        ? { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: sc.traceFlags & 1 ? "01" : "00" }
        : {};
    },
  };
}

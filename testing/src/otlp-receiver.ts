import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A span as an OTLP receiver got it, with its service's name. */
export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: "UNSPECIFIED" | "INTERNAL" | "SERVER" | "CLIENT" | "PRODUCER" | "CONSUMER";
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
}

/** One export request as it arrived. */
export interface OtlpRequest {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** An OTLP/HTTP receiver on loopback: the `http/json` traces it decodes, every request it keeps. */
export interface OtlpReceiver {
  /** What `OTEL_EXPORTER_OTLP_ENDPOINT` is set to (traces arrive at `<url>/v1/traces`). */
  readonly url: string;
  /** Every span decoded from `http/json` requests, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Every request, `http/protobuf` ones included (kept as bytes, not decoded). */
  readonly requests: readonly OtlpRequest[];
  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const;

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type KeyValue = { key: string; value?: AnyValue };
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: KeyValue[];
  status?: { code?: number };
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
}
interface JsonRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: JsonSpan[] }[] }[];
}

function attributesOf(kvs: readonly KeyValue[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value = {} } of kvs) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
    if (v !== undefined) out[key] = typeof v === "string" && value.intValue !== undefined ? Number(v) : v;
  }
  return out;
}

/** The spans of an OTLP/JSON ExportTraceServiceRequest (ids as hex, as the JSON encoding has them). */
export function decodeOtlpJson(body: string): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of (JSON.parse(body) as JsonRequest).resourceSpans ?? []) {
    const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        spans.push({
          service,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          kind: KINDS[s.kind ?? 0] ?? "UNSPECIFIED",
          attributes: attributesOf(s.attributes),
          status: s.status?.code ?? 0,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
        });
  }
  return spans;
}

/**
 * Starts an OTLP/HTTP receiver on a free loopback port: point a process's
 * `OTEL_EXPORTER_OTLP_ENDPOINT` at `url` and read what it exported.
 * @example
 * await using otlp = await otlpReceiver();
 * // … run services with OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL=http/json
 * await waitFor("spans", () => otlp.spans.length > 0);
 */
export async function otlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpRequest[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const contentType = req.headers["content-type"] ?? "";
    requests.push({ path: req.url ?? "", contentType, body });
    if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end();
    if (contentType.startsWith("application/json")) {
      try {
        spans.push(...decodeOtlpJson(body.toString("utf8")));
      } catch {
        return void res.writeHead(400).end();
      }
      return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    }
    // An empty protobuf message is a valid ExportTraceServiceResponse: full success.
    res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    trace: (traceId) => spans.filter((s) => s.traceId === traceId),
    close,
    [Symbol.asyncDispose]: close,
  };
}

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tracedStart } from "./service-tracing.js";
import type { ServicePlan } from "./up-config.js";

const plan = { service: { name: "billing" } } as ServicePlan;

describe("tracedStart", () => {
  it("starts a service as it is when OTEL_* do not configure tracing", () => {
    const env = { OTEL_SERVICE_NAME: "shop", PATH: "/bin" };
    expect(tracedStart(plan, env)).toEqual({ nodeArgs: [], env });
  });

  it("with an OTLP endpoint: the host's tracing hooks first, and the service's own name", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SERVICE_NAME: "shop" };
    const { nodeArgs, env: traced } = tracedStart(plan, env);
    expect(nodeArgs[0]).toBe("--import");
    expect(nodeArgs[1]).toMatch(/^file:\/\/.*\/host\/dist\/tracing\/register\.js$/);
    expect(existsSync(fileURLToPath(nodeArgs[1]!))).toBe(true);
    expect(traced).toEqual({ ...env, OTEL_SERVICE_NAME: "billing" });
  });
});

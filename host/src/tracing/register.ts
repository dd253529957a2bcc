// The module a service is started with, `node --import @orderflow/host/tracing main.js`, so that
// its hooks are in place before anything they patch is loaded (see instrumentations.ts). Without
// OTEL_* configuration it does nothing and loads nothing more.
import { tracingConfigured } from "./configured.js";

if (tracingConfigured()) await (await import("./instrumentations.js")).instrument();

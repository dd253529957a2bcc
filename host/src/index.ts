export { startService, runService, defineService, serviceSource } from "./service.js";
export type { ServiceDefinition, ServiceDeps, RunningService, StartOverrides, Worker } from "./service.js";
export { parseConfig, baseConfigShape } from "./config.js";
export type { BaseConfig } from "./config.js";
export { createMetrics } from "./metrics.js";
export type { Metrics } from "./metrics.js";
export { operatorOnly } from "./operator-auth.js";

export { startService, runService, defineService, serviceSource } from "./service.js";
export type { ServiceDefinition, ServiceDeps, RunningService, StartOverrides, Worker } from "./service.js";
export { parseConfig, baseConfigShape, natsTlsOf, deadLetterLimitsOf } from "./config.js";
export type { BaseConfig, NatsCredentials, NatsTlsFiles } from "./config.js";
export { createMetrics } from "./metrics.js";
export type { Metrics } from "./metrics.js";
export {
  natsPermissions,
  operatorPermissions,
  serviceStreams,
  OPERATOR_IDENTITY,
} from "./nats-permissions.js";
export type { NatsPermissions, NatsPermissionOptions, ServicePermissionOptions } from "./nats-permissions.js";
export { natsInboxPrefix } from "./connections.js";
export { operatorOnly } from "./operator-auth.js";

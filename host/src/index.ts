export { startService, runService } from "./service.js";
export type { RunningService, StartOverrides } from "./service.js";
export { defineService, serviceSource } from "./definition.js";
export type { ServiceDefinition, ServiceDeps, Worker } from "./definition.js";
export { parseConfig, baseConfigShape, natsTlsOf, deadLetterLimitsOf, natsServers } from "./config.js";
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
export { tracingConfigured } from "./tracing/configured.js";
export { openApiDocument } from "./api-document.js";
export { ErrorBody, NotFoundBody, OPERATOR_SCHEME } from "./openapi.js";
export type { OpenApiInfo } from "./openapi.js";
export type { ZodTypeProvider } from "fastify-type-provider-zod";

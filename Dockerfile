# syntax=docker/dockerfile:1
# One image per service: docker build --build-arg SERVICE=order .  (compose.yaml builds all four, and the
# tools image for its one-shot nats-auth: docker build --target tools .)
ARG NODE_IMAGE=node:20-slim

# Every workspace's dependencies and sources: what the service images and the tools image build from.
FROM ${NODE_IMAGE} AS deps
ENV TURBO_TELEMETRY_DISABLED=1
WORKDIR /app
# Manifests first, so the dependency layer is reused until a package.json or the lockfile changes.
COPY package.json package-lock.json ./
COPY events/package.json events/
COPY outbox/package.json outbox/
COPY host/package.json host/
COPY testing/package.json testing/
COPY infra/cli/package.json infra/cli/
COPY services/contracts/package.json services/contracts/
COPY services/order/package.json services/order/
COPY services/inventory/package.json services/inventory/
COPY services/billing/package.json services/billing/
COPY services/saga/package.json services/saga/
RUN npm ci --no-audit --no-fund
COPY . .

# The orderflow command with every service's definition (`docker build --target tools .`): compose's
# one-shot `nats-auth` runs `orderflow nats-config --write` with it into the nats-auth volume.
FROM deps AS tools
RUN npx turbo run build --filter=@orderflow/cli --filter=@orderflow/order --filter=@orderflow/inventory \
      --filter=@orderflow/billing --filter=@orderflow/saga
# The volume mounted here starts with this directory's owner: the services (user node) read their seeds.
RUN mkdir -p /auth && chown node:node /auth
USER node
ENTRYPOINT ["node", "infra/cli/dist/bin.js"]

FROM deps AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<a directory under services/>" >&2; exit 1; }
# The service and the workspaces it depends on (events, outbox, host, contracts), nothing else.
RUN npx turbo run build --filter=@orderflow/${SERVICE}...
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/events ./events
COPY --from=build /app/outbox ./outbox
COPY --from=build /app/host ./host
COPY --from=build /app/services/contracts ./services/contracts
COPY --from=build /app/services/${SERVICE} ./services/${SERVICE}
USER node
# exec: node is PID 1's replacement and receives `docker stop`'s SIGTERM for a graceful stop.
# --import: tracing hooks, loaded before the service (they do nothing unless OTEL_* configure tracing).
CMD exec node --import @orderflow/host/tracing services/${SERVICE}/dist/main.js

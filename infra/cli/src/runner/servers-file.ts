/**
 * `{pid, natsUrl, databaseUrl}` of a running `orderflow up`: how `npx orderflow` finds the servers
 * it started (a spawned nats-server and an embedded PostgreSQL on free ports) when NATS_URL /
 * DATABASE_URL are not set.
 */
export const SERVERS_FILE = "servers.json";

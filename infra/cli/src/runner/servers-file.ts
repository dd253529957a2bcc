import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeFile } from "./pid-files.js";
import type { Servers } from "./protocol.js";

/**
 * `{pid, natsUrl, databaseUrl}` of a running `orderflow up`: how `npx orderflow` finds the servers
 * it started (a spawned nats-server and an embedded PostgreSQL on free ports) when NATS_URL /
 * DATABASE_URL are not set.
 */
export const SERVERS_FILE = "servers.json";

export function writeServersFile(dataDir: string, servers: Servers): void {
  writeFileSync(
    join(dataDir, SERVERS_FILE),
    `${JSON.stringify({ pid: process.pid, natsUrl: servers.nats.url, databaseUrl: servers.postgres.url })}\n`,
  );
}

export function removeServersFile(dataDir: string): void {
  removeFile(join(dataDir, SERVERS_FILE));
}

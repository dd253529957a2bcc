import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeFile } from "./pid-files.js";
import type { Servers } from "./protocol.js";

/**
 * `{pid, natsUrl, databaseUrl}` (with `--nats-nodes`, also `nats: [{name, url, pid}…]`) of a running `orderflow up`: how `npx orderflow` finds the servers
 * it started (a spawned nats-server and an embedded PostgreSQL on free ports) when NATS_URL /
 * DATABASE_URL are not set.
 */
export const SERVERS_FILE = "servers.json";

/**
 * With `natsTls` (`orderflow up --tls`): the operator's TLS files for its nats-server, which
 * `npx orderflow` connects with (the `databaseUrl` carries its own TLS parameters).
 */
export function writeServersFile(
  dataDir: string,
  servers: Servers,
  natsTls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string },
): void {
  const content = {
    pid: process.pid,
    natsUrl: servers.nats.url,
    databaseUrl: servers.postgres.url,
    // `--nats-nodes`: each node (`natsUrl` lists all their URLs, comma-separated).
    ...(servers.natsNodes
      ? { nats: servers.natsNodes.map(({ name, url, pid }) => ({ name, url, pid })) }
      : {}),
    ...(natsTls ? { natsTls } : {}),
  };
  writeFileSync(join(dataDir, SERVERS_FILE), `${JSON.stringify(content)}\n`);
}

export function removeServersFile(dataDir: string): void {
  removeFile(join(dataDir, SERVERS_FILE));
}

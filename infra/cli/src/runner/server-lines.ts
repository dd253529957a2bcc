import { join } from "node:path";
import { redact } from "../errors.js";
import type { ServerInfo, Servers } from "./protocol.js";

/** What `orderflow up` prints about its servers: URL, where it comes from, pid. */
export function serverLines(servers: Servers, dataDir: string): string[] {
  const { nats, postgres, natsNodes } = servers;
  return [
    ...(natsNodes
      ? natsNodes.map((n) =>
          serverLine(
            `nats ${n.name}`,
            { ...n, source: "binary" },
            `cluster node, store ${join(dataDir, "nats", n.name)}`,
          ),
        )
      : [
          serverLine(
            "nats",
            nats,
            nats.source === "binary" ? `nats-server, store ${join(dataDir, "nats")}` : "from NATS_URL",
          ),
        ]),
    serverLine(
      "postgres",
      postgres,
      postgres.source === "embedded" ? `embedded, data ${join(dataDir, "postgres")}` : "from DATABASE_URL",
    ),
  ];
}

function serverLine(name: string, info: ServerInfo, where: string): string {
  const url = info.source === "env" ? redact(info.url) : info.url;
  return `  ${name.padEnd(10)}${url}  (${where}${info.pid ? `, pid ${info.pid}` : ""})`;
}

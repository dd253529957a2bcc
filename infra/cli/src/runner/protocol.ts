import type { Resolved } from "@orderflow/testing";

/** Messages between `orderflow up` and its infra host (over the child's IPC channel). */
export interface ServerInfo {
  readonly url: string;
  readonly source: Resolved["source"];
  readonly pid: number | undefined;
}

/** A node of the NATS cluster the host spawned (`--nats-nodes`): `n1`…, its own URL and process. */
export interface NatsNodeInfo {
  readonly name: string;
  readonly url: string;
  readonly pid: number | undefined;
}

/** The servers the system runs on: spawned by the host, or given by NATS_URL / DATABASE_URL. */
export interface Servers {
  /** With a cluster, `url` lists every node's, comma-separated, and `pid` is undefined. */
  readonly nats: ServerInfo;
  readonly postgres: ServerInfo;
  /** `--nats-nodes` above 1: each node; undefined with one nats-server. */
  readonly natsNodes?: readonly NatsNodeInfo[];
}

export type HostRequest =
  /** Services whose exit the host waits for before it stops the servers, should the runner die. */
  | { readonly type: "watch"; readonly pids: readonly number[] }
  /** Stop the servers gracefully, then exit. */
  | { readonly type: "stop" };

export type HostReply =
  | ({ readonly type: "ready" } & Servers)
  /** `code` is the InfraError code when there is one (NO_NATS: nothing to run NATS with…). */
  | { readonly type: "failed"; readonly message: string; readonly code?: string };

/** The servers the host spawned, by the names the runner shows (and orderflow.pid records); `nats-n1`…: cluster nodes. */
export type ServerName = "nats-server" | "postgres" | `nats-n${number}`;

/** What becomes of a spawned server that dies once running (sent by the host at any time after `ready`). */
export type HostEvent =
  /** It died (not stopped by us); the host is starting it again. */
  | {
      readonly type: "server-died";
      readonly name: ServerName;
      readonly pid: number | undefined;
      readonly exit: string;
    }
  /** It runs again, on the same port and data. */
  | { readonly type: "server-restarted"; readonly name: ServerName; readonly pid: number | undefined }
  /** It died too often (or could not start again): the run has failed; the host awaits `stop`. */
  | { readonly type: "server-gave-up"; readonly name: ServerName; readonly message: string };

export const NATS_PID_FILE = "nats-server.pid";

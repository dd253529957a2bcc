import type { Resolved } from "@orderflow/testing";

/** Messages between `orderflow up` and its infra host (over the child's IPC channel). */
export interface ServerInfo {
  readonly url: string;
  readonly source: Resolved["source"];
  readonly pid: number | undefined;
}

/** The servers the system runs on: spawned by the host, or given by NATS_URL / DATABASE_URL. */
export interface Servers {
  readonly nats: ServerInfo;
  readonly postgres: ServerInfo;
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

export const NATS_PID_FILE = "nats-server.pid";

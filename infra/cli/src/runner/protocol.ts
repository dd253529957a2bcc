import type { Resolved } from "@orderflow/infra";

/** Messages between `orderflow up` and its infra host (over the child's IPC channel). */
export interface ServerInfo {
  readonly url: string;
  readonly source: Resolved["source"];
  readonly pid: number | undefined;
}

export type HostRequest =
  /** Services whose exit the host waits for before it stops the servers, should the runner die. */
  | { readonly type: "watch"; readonly pids: readonly number[] }
  /** Stop the servers gracefully, then exit. */
  | { readonly type: "stop" };

export type HostReply =
  | { readonly type: "ready"; readonly nats: ServerInfo; readonly postgres: ServerInfo }
  /** `code` is the InfraError code when there is one (NO_NATS: nothing to run NATS with…). */
  | { readonly type: "failed"; readonly message: string; readonly code?: string };

export const NATS_PID_FILE = "nats-server.pid";

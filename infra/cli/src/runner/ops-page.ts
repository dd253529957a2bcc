import { oneLine } from "../errors.js";
import type { OpsUi } from "../ui/ops-ui.js";
import type { SystemService } from "../system/load-system.js";
import type { Servers } from "./protocol.js";

/**
 * The ops page beside the system `orderflow up` runs (see ui/ops-ui.ts), as the operator. Loaded
 * only when started; one that cannot start is a warning line, never a failed start.
 */
export async function startRunnerOpsPage(opts: {
  readonly env: NodeJS.ProcessEnv;
  readonly dataDir: string;
  readonly servers: Servers;
  readonly services: readonly SystemService[];
  readonly sagaUrl: string | undefined;
  readonly operatorToken: string;
  readonly port: number;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}): Promise<OpsUi | undefined> {
  try {
    const { startOpsUiAsOperator } = await import("../ui/ops-ui.js");
    const ui = await startOpsUiAsOperator(
      {
        ...opts.env,
        NATS_URL: opts.servers.nats.url,
        DATABASE_URL: opts.servers.postgres.url,
        ORDERFLOW_DATA_DIR: opts.dataDir,
      },
      { services: opts.services, sagaUrl: opts.sagaUrl, operatorToken: opts.operatorToken, port: opts.port },
    );
    opts.out(`  ${"ops page".padEnd(10)}${ui.url}  (loopback only; redrive asks for the operator token)`);
    return ui;
  } catch (e) {
    opts.err(`orderflow: the ops page did not start: ${oneLine(e)}`);
    return undefined;
  }
}

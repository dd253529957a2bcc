import { broker, serviceConfig, type Broker } from "../recovery/context.js";
import { readCredentials } from "../runner/credentials-file.js";
import { onStopSignals } from "../runner/stop-signals.js";
import { serviceBaseUrl } from "../service-urls.js";
import { findDataDir } from "../system/find-config.js";
import { loadSystem, type System } from "../system/load-system.js";
import { startOpsUi } from "../ui/ops-ui.js";
import { SAGA_SERVICE, uiPort } from "../ui/ui-config.js";

export interface UiCommandOptions {
  readonly out?: (line: string) => void;
}

/**
 * `orderflow ui`: the ops page of the running system (the servers and identity the other commands
 * use, see `broker`) on 127.0.0.1:ORDERFLOW_UI_PORT until SIGINT / SIGTERM. Resolves with the exit
 * code.
 */
export async function uiCommand(opts: UiCommandOptions = {}): Promise<number> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const system = await loadSystem();
  const port = uiPort(process.env);
  await using b = await broker();
  const token = operatorToken(b, system);
  const saga = system.services.find((s) => s.name === SAGA_SERVICE);
  const ui = await startOpsUi({
    broker: b,
    services: system.services,
    sagaUrl: saga && serviceBaseUrl(saga.name, saga.definition.defaultPort, b.env),
    operatorToken: token,
    port,
  });
  out(`orderflow ui: the ops page is at ${ui.url} (loopback only). Ctrl-C stops it`);
  out(
    token
      ? "  redrive asks for the operator token: jq -r .http.operatorToken .data/credentials.json"
      : "  no operator token (OPERATOR_TOKEN, or a running `orderflow up`'s): redrive is refused",
  );
  let stopListening = () => {};
  await new Promise<void>((resolve) => {
    stopListening = onStopSignals({ out, stop: () => resolve(), force: () => process.exit(130) });
  });
  await ui.close();
  stopListening();
  return 0;
}

/** OPERATOR_TOKEN (or its _FILE) as the services read it, else the one a local `orderflow up` keeps. */
function operatorToken(b: Broker, system: System): string | undefined {
  const first = system.services[0];
  const given = first && serviceConfig(b, first.definition).config.operatorToken;
  if (given) return given;
  const dir = b.env.ORDERFLOW_DATA_DIR || findDataDir({ env: b.env });
  try {
    return dir ? readCredentials(dir).http?.operatorToken : undefined;
  } catch {
    return undefined;
  }
}

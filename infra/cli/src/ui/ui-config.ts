// What `orderflow up` and `orderflow ui` read before loading the page's server (ops-ui.ts), which
// they import only when it starts: a configuration error must not wait for Fastify to load.
import { CliError } from "../errors.js";

export const UI_PORT_VAR = "ORDERFLOW_UI_PORT";
export const DEFAULT_UI_PORT = 3004;
/** The order system's coordinator, whose `GET /sagas/:orderId` gives each order's timeline. */
export const SAGA_SERVICE = "saga";

/** ORDERFLOW_UI_PORT, 1 to 65535 (default 3004); anything else is one BAD_CONFIG line naming it. */
export function uiPort(env: Record<string, string | undefined>): number {
  const given = env[UI_PORT_VAR];
  if (given === undefined || given === "") return DEFAULT_UI_PORT;
  const port = Number(given);
  if (!/^\d+$/.test(given) || port < 1 || port > 65535)
    throw new CliError("BAD_CONFIG", `${UI_PORT_VAR}: must be a port from 1 to 65535 (got "${given}")`);
  return port;
}

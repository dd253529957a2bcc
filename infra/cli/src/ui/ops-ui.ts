import { DeadLetters, type AnyDb } from "@orderflow/outbox";
import { CliError } from "../errors.js";
import { UI_PORT_VAR } from "./ui-config.js";
import { broker, catalogOf, openServiceDatabase, serviceConfig, type Broker } from "../recovery/context.js";
import type { SystemService } from "../system/load-system.js";
import { readOverview } from "./ops-overview.js";
import { startOpsServer } from "./ops-server.js";
import { followsOrders, RecentOrders } from "./recent-orders.js";
import { SagaTimelines } from "./saga-timelines.js";

export interface OpsUiOptions {
  /** The operator's NATS connection (see `broker`): left open by `close`. */
  readonly broker: Broker;
  readonly services: readonly Pick<SystemService, "name" | "definition">[];
  /** The saga service's base URL; undefined: orders are listed without their sagas. */
  readonly sagaUrl: string | undefined;
  /** What redriving takes; undefined: nobody may redrive. */
  readonly operatorToken: string | undefined;
  /** 0: any free port. */
  readonly port: number;
}

export interface OpsUi {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The ops page of a running system (see ops-server.ts), fed by the operator's NATS connection, each
 * service's database as the CLI opens it (outbox backlog), the orders stream (recent orders) and
 * the saga service's HTTP API (their timelines).
 * @example
 * const ui = await startOpsUi({ broker: b, services, sagaUrl, operatorToken, port: 3004 });
 */
export async function startOpsUi(opts: OpsUiOptions): Promise<OpsUi> {
  const b = opts.broker;
  const catalog = catalogOf(opts.services.map((s) => s.definition));
  const databases: { service: string; db: AnyDb }[] = opts.services.map((s) => ({
    service: s.name,
    db: openServiceDatabase(serviceConfig(b, s.definition).config),
  }));
  const orders = followsOrders(catalog) ? new RecentOrders({ ...b, catalog }) : undefined;
  const sagas = opts.sagaUrl === undefined ? undefined : new SagaTimelines(opts.sagaUrl);
  const closeRest = async () => {
    await orders?.stop();
    await Promise.all(databases.map(({ db }) => db.destroy()));
  };
  orders?.start();
  try {
    const server = await startOpsServer({
      port: opts.port,
      operatorToken: opts.operatorToken,
      overview: () => readOverview({ broker: b, databases, orders, sagas }),
      redrive: (id) => new DeadLetters(b).redrive(id),
    });
    return {
      url: server.url,
      async close() {
        await server.close();
        await closeRest();
      },
    };
  } catch (err) {
    await closeRest();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new CliError("BAD_CONFIG", `${UI_PORT_VAR}: port ${opts.port} on 127.0.0.1 is already in use`, {
        cause: err,
      });
    throw err;
  }
}

/** `startOpsUi` on a connection of its own as the operator (`broker(env)`), closed with the page. */
export async function startOpsUiAsOperator(
  env: Record<string, string | undefined>,
  opts: Omit<OpsUiOptions, "broker">,
): Promise<OpsUi> {
  const b = await broker(env);
  try {
    const ui = await startOpsUi({ ...opts, broker: b });
    return {
      url: ui.url,
      async close() {
        await ui.close();
        await b[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    await b[Symbol.asyncDispose]();
    throw err;
  }
}

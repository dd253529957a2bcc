#!/usr/bin/env node
import { resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { exitCodeOf, isCliError, oneLine } from "./errors.js";

const program = new Command("orderflow")
  .description("Orderflow: run the system locally and operate it")
  .exitOverride()
  // Commander's own messages are reported below as one line, like every other error.
  .configureOutput({ outputError: () => {}, writeErr: () => {} })
  .option(
    "--config <path>",
    "the system's orderflow.config.ts (default: looked for from the current directory upward; or ORDERFLOW_CONFIG)",
  )
  // Every command reads ORDERFLOW_CONFIG (see system/find-config.ts); --config is a way to set it.
  .hook("preAction", () => {
    const { config } = program.opts<{ config?: string }>();
    if (config !== undefined) process.env.ORDERFLOW_CONFIG = resolve(config);
  });

program
  .command("up")
  .description(
    "start NATS, PostgreSQL and every service of the system's config; seed its demo data; Ctrl-C stops (twice forces)",
  )
  .addOption(
    new Option(
      "--data-dir <dir>",
      "where spawned servers keep their data (default: .data/ beside the config)",
    ),
  )
  .option("--no-seed", "do not create the config's seed data")
  .option("--no-ui", "do not serve the ops page (default: on 127.0.0.1:ORDERFLOW_UI_PORT, 3004)")
  .option(
    "--tls",
    "the NATS and PostgreSQL it spawns require TLS with client certificates (made in .data/tls/); also ORDERFLOW_TLS=1",
  )
  .option(
    "--nats-nodes <n>",
    "run NATS as a JetStream cluster of n nats-servers (1, 3 or 5; default 1), every stream with n replicas",
  )
  .option(
    "--instances <n>",
    "run n processes of every service (1-4), instance i on the service's port + 100·(i-1)",
  )
  .action(async (opts: { dataDir?: string; seed: boolean; ui: boolean; tls?: boolean; natsNodes?: string; instances?: string }) => {
    const { up } = await import("./commands/up.js");
    process.exitCode = await up(opts);
  });

program
  .command("openapi")
  .description(
    "write each service's OpenAPI document (what its GET /openapi.json answers) to docs/openapi/<service>.json",
  )
  .option("--out <dir>", "the directory, relative to the config (default: docs/openapi)")
  .option("--check", "write nothing; exit 1 naming each document that is missing or stale")
  .action(async (opts: { out?: string; check?: boolean }) => {
    const { openapi } = await import("./commands/openapi.js");
    process.exitCode = await openapi(opts);
  });

program
  .command("demo")
  .description(
    "place three orders (confirmed, out of stock, declined) against the running system and show each saga",
  )
  .action(async () => {
    const { demo } = await import("./commands/demo.js");
    process.exitCode = await demo();
  });

program
  .command("nats-config")
  .description(
    "print the nats-server authorization block for the system's config: a user per service and the operator, with derived permissions",
  )
  .addOption(
    new Option(
      "--data-dir <dir>",
      "whose credentials.json holds the keys, generated there where missing (default: .data/ beside the config)",
    ),
  )
  .option("--json", "the block alone, as JSON")
  .option(
    "--write",
    "also write <data dir>/nats/auth.conf and each service's seed to <data dir>/nats/secrets/<service>.nk",
  )
  .option(
    "--tls",
    "with --write: also a CA and certificates under <data dir>/tls/ (made once), and nats-server requiring client certificates",
  )
  .option(
    "--tls-host <name>",
    "a host name the server certificate names besides 127.0.0.1 and localhost (repeatable)",
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .action(
    async (opts: {
      dataDir?: string;
      json?: boolean;
      write?: boolean;
      tls?: boolean;
      tlsHost?: string[];
    }) => {
      const { natsConfigCommand } = await import("./commands/nats-config.js");
      process.exitCode = await natsConfigCommand(opts);
    },
  );

const recovery = () => import("./commands/recovery.js");
const run = (fn: () => Promise<number>) => async () => {
  process.exitCode = await fn();
};

program
  .command("replay")
  .description("re-deliver stored events to one service's handlers; already applied events change nothing")
  .requiredOption("--service <name>", "a service of the system's config")
  .option("--stream <name>", "one stream (default: every stream the service consumes)")
  .option("--from-seq <n>", "start at this stream sequence")
  .option("--since <time>", "start at this time (ISO 8601, or 15m / 2h / 7d ago)")
  .option("--until <time>", "skip events stored after this time")
  .option("--subject <filter>", "only subjects matching this filter, e.g. orders.order.created")
  .option("--json", "machine-readable output")
  .action(async (o: Record<string, string | boolean | undefined>) =>
    run(async () => (await recovery()).replayCommand(o))(),
  );

program
  .command("rebuild")
  .description("recreate a service's database from the events it published (pauses a running instance)")
  .argument("<service>", "a service of the system's config whose definition has a projection")
  .option("--yes", "confirm: the service's database is dropped and rebuilt")
  .option("--json", "machine-readable output")
  .action(async (service: string, o: { yes?: boolean; json?: boolean }) =>
    run(async () => (await recovery()).rebuildCommand(service, o))(),
  );

program
  .command("republish")
  .description("re-feed streams from a service's retained outbox rows, skipping events the stream still has")
  .argument("<service>", "a service of the system's config")
  .requiredOption("--since <time>", "rows created since (ISO 8601, or 15m / 2h / 7d ago)")
  .option("--yes", "confirm")
  .option("--json", "machine-readable output")
  .action(async (service: string, o: { since?: string; yes?: boolean; json?: boolean }) =>
    run(async () => (await recovery()).republishCommand(service, o))(),
  );

const consumers = program
  .command("consumers")
  .description("every durable consumer with pending, ack-pending, redelivered and lag")
  .option("--json", "machine-readable output")
  .action(async (o: { json?: boolean }) => run(async () => (await recovery()).consumersCommand(o))());
consumers
  .command("reset")
  .description("move a durable consumer to a sequence or a time")
  .argument("<stream>")
  .argument("<consumer>")
  .option("--seq <n>", "next message to deliver")
  .option("--time <time>", "first message stored at or after this time")
  .option("--yes", "confirm")
  .option("--json", "machine-readable output")
  .action(
    async (
      stream: string,
      consumer: string,
      o: { seq?: string; time?: string; yes?: boolean; json?: boolean },
    ) => run(async () => (await recovery()).consumersResetCommand(stream, consumer, o))(),
  );

const dlq = program
  .command("dlq")
  .description("dead letters: list | show <id> | redrive <id>|--all | purge --yes");
dlq
  .command("list")
  .option("--json", "machine-readable output")
  .action(async (o: { json?: boolean }) => run(async () => (await recovery()).dlqListCommand(o))());
dlq
  .command("show")
  .argument("<id>")
  .action(async (id: string) => run(async () => (await recovery()).dlqShowCommand(id, {}))());
dlq
  .command("redrive")
  .argument("[id]")
  .option("--all", "every dead letter")
  .option("--json", "machine-readable output")
  .action(async (id: string | undefined, o: { all?: boolean; json?: boolean }) =>
    run(async () => (await recovery()).dlqRedriveCommand(id, o))(),
  );
dlq
  .command("purge")
  .option("--yes", "confirm")
  .option("--json", "machine-readable output")
  .action(async (o: { yes?: boolean; json?: boolean }) =>
    run(async () => (await recovery()).dlqPurgeCommand(o))(),
  );

program
  .command("outbox")
  .description("backlog size and oldest unpublished age per service")
  .option("--json", "machine-readable output")
  .action(async (o: { json?: boolean }) => run(async () => (await recovery()).outboxCommand(o))());

program
  .command("ui")
  .description(
    "the ops page: recent orders and their sagas, consumer lag, outbox backlog, dead letters (redrive with the operator token); on 127.0.0.1:ORDERFLOW_UI_PORT (3004)",
  )
  .action(async () => {
    const { uiCommand } = await import("./commands/ui.js");
    process.exitCode = await uiCommand();
  });

// Commands are loaded when run: a usage error need not load the service runtime.
try {
  await program.parseAsync(process.argv);
  process.exit(process.exitCode ?? 0);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with code 0.
    const message =
      err.code === "commander.help"
        ? "missing command (see orderflow --help)"
        : err.message.replace(/^error: /, "");
    if (err.exitCode !== 0) process.stderr.write(`orderflow: ${message.split("\n")[0]}\n`);
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`orderflow: ${oneLine(err)}\n`);
  process.exit(isCliError(err) ? exitCodeOf(err.code) : 1);
}

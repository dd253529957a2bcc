import {
  DeadLetters,
  listConsumers,
  outboxStatus,
  rebuildDatabase,
  republishOutbox,
  resetConsumer,
} from "@orderflow/outbox";
import { CliError } from "../errors.js";
import {
  asBadInput,
  assertStream,
  broker,
  loadService,
  openServiceDatabase,
  rebuildOptions,
  serviceConfig,
  systemCatalog,
  withDatabase,
} from "../recovery/context.js";
import { parsePastTime, parseSeq, parseTime, requireYes } from "../recovery/input.js";
import { print, progress } from "../recovery/output.js";
import { replay } from "../recovery/replay.js";
import { loadSystem } from "../system/load-system.js";

interface Common {
  json?: boolean;
}

export async function consumersCommand(opts: Common): Promise<number> {
  await using b = await broker();
  print(await listConsumers(b.jsm), opts.json ?? false);
  return 0;
}

export async function consumersResetCommand(
  stream: string,
  consumer: string,
  opts: Common & { seq?: string; time?: string; yes?: boolean },
): Promise<number> {
  if ((opts.seq === undefined) === (opts.time === undefined))
    throw new CliError("BAD_CONFIG", "give exactly one of --seq N or --time T");
  const to =
    opts.seq !== undefined
      ? { seq: parseSeq(opts.seq, "--seq") }
      : { time: parsePastTime(opts.time!, "--time") };
  requireYes(opts.yes, `resetting ${stream}/${consumer}`);
  await using b = await broker();
  await asBadInput(() => resetConsumer(b.jsm, stream, consumer, to));
  print(
    [{ stream, consumer, ...("seq" in to ? { seq: to.seq } : { time: to.time.toISOString() }) }],
    opts.json ?? false,
  );
  return 0;
}

export async function dlqListCommand(opts: Common): Promise<number> {
  await using b = await broker();
  const rows = await new DeadLetters(b).list();
  print(
    rows.map((r) => ({
      id: r.id,
      time: r.time,
      consumer: r.consumer,
      code: r.code,
      subject: r.subject,
      deliveries: r.deliveries,
      reason: r.reason,
    })),
    opts.json ?? false,
    "no dead letters",
  );
  return 0;
}

export async function dlqShowCommand(id: string, _opts: Common): Promise<number> {
  await using b = await broker();
  const letter = await new DeadLetters({ ...b, catalog: await systemCatalog() }).show(parseSeq(id, "id"));
  if (!letter) throw new CliError("BAD_CONFIG", `no dead letter ${id}`);
  process.stdout.write(`${JSON.stringify(letter, null, 2)}\n`);
  return 0;
}

export async function dlqRedriveCommand(
  id: string | undefined,
  opts: Common & { all?: boolean },
): Promise<number> {
  if ((id === undefined) === !opts.all) throw new CliError("BAD_CONFIG", "give a dead-letter id or --all");
  await using b = await broker();
  const dlq = new DeadLetters(b);
  const ids = opts.all ? await dlq.ids() : [parseSeq(id!, "id")];
  const bar = progress("redrive", opts.json ?? false);
  const done = [];
  for (const n of ids) {
    done.push(await asBadInput(() => dlq.redrive(n)));
    bar.update(done.length, ids.length);
  }
  bar.stop();
  print(done, opts.json ?? false, "nothing to redrive");
  return 0;
}

export async function dlqPurgeCommand(opts: Common & { yes?: boolean }): Promise<number> {
  requireYes(opts.yes, "purging the dead-letter stream");
  await using b = await broker();
  print([{ purged: await new DeadLetters(b).purge() }], opts.json ?? false);
  return 0;
}

export async function outboxCommand(opts: Common): Promise<number> {
  await using b = await broker();
  const rows = [];
  for (const { name, definition } of (await loadSystem()).services) {
    const { config, variable } = serviceConfig(b, definition);
    await using db = openServiceDatabase(config);
    const status = await withDatabase({ service: name, env: b.env, url: config.databaseUrl, variable }, () =>
      outboxStatus(db),
    );
    rows.push({ service: name, ...status });
  }
  print(rows, opts.json ?? false);
  return 0;
}

export async function replayCommand(
  opts: Common & {
    service?: string;
    stream?: string;
    fromSeq?: string;
    since?: string;
    until?: string;
    subject?: string;
  },
): Promise<number> {
  if (!opts.service) throw new CliError("BAD_CONFIG", "--service is required");
  if (opts.fromSeq && opts.since) throw new CliError("BAD_CONFIG", "give --from-seq or --since, not both");
  const definition = await loadService(opts.service);
  const fromSeq = opts.fromSeq ? parseSeq(opts.fromSeq, "--from-seq") : undefined;
  const since = opts.since ? parsePastTime(opts.since, "--since") : undefined;
  const until = opts.until ? parseTime(opts.until, "--until") : undefined;
  await using b = await broker();
  if (opts.stream) await assertStream(b, b.topology.stream(opts.stream));
  const { config, variable } = serviceConfig(b, definition);
  const url = config.databaseUrl;
  const bar = progress(`replay ${opts.service}`, opts.json ?? false);
  const result = await withDatabase({ service: opts.service, env: b.env, url, variable }, () =>
    replay({
      definition,
      // The service's own role, where credentials.json keeps one.
      env: { ...b.env, [`${definition.name.toUpperCase()}_DATABASE_URL`]: url },
      js: b.js,
      jsm: b.jsm,
      topology: b.topology,
      ...(opts.stream ? { stream: opts.stream } : {}),
      ...(fromSeq ? { fromSeq } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(opts.subject ? { subject: opts.subject } : {}),
      onProgress: (d, t) => bar.update(d, t),
    }),
  );
  bar.stop();
  print([{ service: opts.service, ...result }], opts.json ?? false);
  return 0;
}

export async function rebuildCommand(service: string, opts: Common & { yes?: boolean }): Promise<number> {
  const definition = await loadService(service);
  const rebuildable = await rebuildOptions(definition);
  requireYes(opts.yes, `rebuilding ${service} drops its database and`);
  await using b = await broker();
  const { config, variable, operatorUrl } = serviceConfig(b, definition);
  const bar = progress(`rebuild ${service}`, opts.json ?? false);
  const result = await withDatabase({ service, env: b.env, url: config.databaseUrl, variable }, () =>
    asBadInput(() =>
      rebuildDatabase({
        ...rebuildable,
        connectionString: config.databaseUrl,
        // Roles set up by orderflow up: the operator drops and creates, the service's role migrates and folds.
        ...(operatorUrl ? { adminConnectionString: operatorUrl } : {}),
        preparedStatements: config.preparedStatements,
        nc: b.nc,
        js: b.js,
        jsm: b.jsm,
        topology: b.topology,
        onProgress: (d, t) => bar.update(d, t),
      }),
    ),
  );
  bar.stop();
  print([{ service, ...result }], opts.json ?? false);
  return 0;
}

export async function republishCommand(
  service: string,
  opts: Common & { since?: string; yes?: boolean },
): Promise<number> {
  const definition = await loadService(service);
  if (!opts.since) throw new CliError("BAD_CONFIG", "--since is required");
  const since = parsePastTime(opts.since, "--since");
  requireYes(opts.yes, "republishing");
  await using b = await broker();
  const { config, variable } = serviceConfig(b, definition);
  const bar = progress(`republish ${service}`, opts.json ?? false);
  await using db = openServiceDatabase(config);
  const result = await withDatabase({ service, env: b.env, url: config.databaseUrl, variable }, () =>
    republishOutbox({
      db,
      js: b.js,
      jsm: b.jsm,
      topology: b.topology,
      since,
      onProgress: (d, t) => bar.update(d, t),
    }),
  );
  bar.stop();
  print([{ service, ...result }], opts.json ?? false);
  return 0;
}

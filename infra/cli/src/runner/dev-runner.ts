import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CliError, exitCodeOf, isCliError, oneLine } from "../errors.js";
import { shownPath } from "../shown-path.js";
import type { SeedData } from "../system/define-system.js";
import type { OpsUi } from "../ui/ops-ui.js";
import { SAGA_SERVICE } from "../ui/ui-config.js";
import { startRunnerOpsPage } from "./ops-page.js";
import { abortable, untilAborted } from "./abortable.js";
import { clearPreviousRun } from "./clear-previous-run.js";
import {
  CREDENTIALS_FILE,
  ensureNatsIdentities,
  ensureOperatorToken,
  type NatsIdentity,
} from "./credentials-file.js";
import { provisionDatabases } from "./ensure-databases.js";
import { InfraHostProcess } from "./infra-host-process.js";
import { instancePlans, instancesEnv } from "./instances.js";
import { writeNatsAuth, type NatsAuth } from "./nats-auth.js";
import { checkNatsStore } from "./nats-cluster.js";
import { provisionStreams } from "./provision-streams.js";
import type { HostEvent, Servers } from "./protocol.js";
import { RunLock } from "./run-lock.js";
import { seedSystem } from "./seed-system.js";
import { serverLines } from "./server-lines.js";
import { removeServersFile, writeServersFile } from "./servers-file.js";
import type { ServiceProcess } from "./service-process.js";
import { ownDatabaseEnv, withoutSecrets } from "./service-env.js";
import { ServiceSupervisor } from "./service-supervisor.js";
import { serviceUrl } from "./service-url.js";
import { onStopSignals } from "./stop-signals.js";
import { describeExit, type Exit } from "./tracked-process.js";
import {
  ensureTlsCertificates,
  natsTlsEnv,
  natsTlsOf,
  postgresTlsUrl,
  TLS_DIR,
  TLS_OPERATOR,
  type TlsFiles,
} from "./tls-certs.js";
import { checkPorts, type ServicePlan, type UpConfig } from "./up-config.js";
import { waitReady } from "./wait-ready.js";
import { withDeadline } from "./with-deadline.js";

export interface DevRunnerOptions {
  /** The system's root: the services' working directory. */
  readonly root: string;
  readonly dataDir: string;
  readonly config: UpConfig;
  /** What to create once the services are ready; undefined: nothing. */
  readonly seed: SeedData | undefined;
  /** Where the ops page listens (ORDERFLOW_UI_PORT); undefined: no ops page (`--no-ui`). */
  readonly uiPort: number | undefined;
  /** The runner's environment, passed on to every process it starts. */
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

class Interrupted extends Error {
  override name = "Interrupted";
}

/**
 * The process tree of `orderflow up`: an infra host (NATS + PostgreSQL, see infra-host.ts) and one
 * child per service, each in its own process group so that only the runner hears the terminal.
 * Stop order: services first (SIGTERM, they finish in-flight work and drain), then the servers.
 */
export class DevRunner {
  readonly #opts: DevRunnerOptions;
  /** Aborted with why the run ends: a signal (Interrupted) or a failure. */
  readonly #abort = new AbortController();
  #lock: RunLock | undefined;
  #host: InfraHostProcess | undefined;
  #services: ServiceSupervisor | undefined;
  #stopping = false;
  #forced = false;
  #operatorToken = "";
  /** The operator's NATS identity: its key on a nats-server we run, else ORDERFLOW_NATS_NKEY_SEED's. */
  #operator: NatsIdentity | undefined;
  /** The users of a nats-server we run; undefined on a NATS_URL. */
  #natsAuth: NatsAuth | undefined;
  /** `--tls`: the run's certificates. */
  #tls: TlsFiles | undefined;
  /** The servers as the services and `npx orderflow` reach them (servers.json). */
  #servers: Servers | undefined;
  /** Whether the nats-server / PostgreSQL we run require TLS (never one given by URL). */
  #natsTls = false;
  #postgresTls = false;
  #ui: OpsUi | undefined;

  constructor(opts: DevRunnerOptions) {
    this.#opts = opts;
  }

  /** Runs until a signal or a failure; resolves with the process exit code once everything is gone. */
  async run(): Promise<number> {
    const stopListening = onStopSignals({
      out: this.#opts.out,
      stop: (signal) => this.#abort.abort(new Interrupted(signal)),
      force: () => this.#force(),
    });
    let code = 0;
    try {
      await this.#start();
      await untilAborted(this.#abort.signal);
    } catch (err) {
      if (!(err instanceof Interrupted)) {
        this.#opts.err(`orderflow: ${oneLine(err)}`);
        code = isCliError(err) ? exitCodeOf(err.code) : 1;
      }
    }
    await this.#shutdown();
    stopListening();
    if (this.#forced) return 130;
    if (code === 0) this.#opts.out("orderflow: stopped");
    return code;
  }

  async #start(): Promise<void> {
    const started = Date.now();
    const servers = await this.#startServers();
    await this.#provisionStreams(servers);
    await this.#startServices(servers);
    if (this.#opts.seed) await this.#seed(this.#opts.seed);
    if (this.#opts.uiPort !== undefined) await this.#startUi(servers, this.#opts.uiPort);
    this.#services?.markReady();
    this.#opts.out(
      `orderflow: ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Ctrl-C stops everything (twice forces)`,
    );
  }

  /** Takes the data directory, then NATS and PostgreSQL from the infra host. */
  async #startServers(): Promise<Servers> {
    const { dataDir, config, root, env, out, err } = this.#opts;
    mkdirSync(dataDir, { recursive: true });
    this.#lock = RunLock.acquire(dataDir);
    // After the lock: a port held by another runner on this data dir is reported as that runner.
    await checkPorts(config);
    await this.#guard(clearPreviousRun({ dataDir, config, out }));
    if (config.natsUrl === undefined) checkNatsStore(dataDir, config.natsNodes);
    this.#operatorToken = config.operatorToken ?? ensureOperatorToken(dataDir);
    this.#operator = config.operatorSeed === undefined ? undefined : { nkeySeed: config.operatorSeed };
    if (config.tls)
      this.#tls = await this.#guard(
        ensureTlsCertificates(
          dataDir,
          config.services.map((p) => p.service.name),
        ),
      );
    if (config.natsUrl === undefined) this.#writeNatsAuth();

    out(`orderflow: data in ${dataDir}`);
    const tls = this.#tls;
    this.#host = InfraHostProcess.spawn({
      root,
      dataDir,
      env,
      err,
      natsConfig: this.#natsAuth?.configFile,
      natsNodes: config.natsNodes,
      ...(tls && config.databaseUrl === undefined
        ? { postgresTls: { certFile: tls.server.cert, keyFile: tls.server.key, caFile: tls.ca } }
        : {}),
      onExit: (how) => this.#onHostExit(how),
      onServerEvent: (event) => this.#onServerEvent(event),
    });
    this.#recordTree();
    const spawned = await this.#guard(this.#host.servers());
    this.#recordTree();
    this.#natsTls = tls !== undefined && this.#natsAuth !== undefined && spawned.nats.source === "binary";
    this.#postgresTls = tls !== undefined && spawned.postgres.source === "embedded";
    // The runner (and `npx orderflow`) connect to an embedded PostgreSQL with the operator's certificate.
    const servers = this.#postgresTls
      ? {
          ...spawned,
          postgres: { ...spawned.postgres, url: postgresTlsUrl(spawned.postgres.url, tls!, TLS_OPERATOR) },
        }
      : spawned;
    this.#servers = servers;
    writeServersFile(dataDir, servers, this.#natsTls ? natsTlsOf(tls!, TLS_OPERATOR) : undefined);
    for (const line of serverLines(servers, dataDir)) out(line);
    if (tls) {
      const on = [this.#natsTls && "NATS", this.#postgresTls && "PostgreSQL"].filter(Boolean).join(" and ");
      const off = [!this.#natsTls && "NATS_URL", !this.#postgresTls && "DATABASE_URL"]
        .filter(Boolean)
        .join(" and ");
      out(
        `  tls: ${on || "nothing"} ${on ? "require" : "requires"} TLS with a client certificate (certificates in ${shownPath(join(dataDir, TLS_DIR))})${off ? `; ${off} left as given` : ""}`,
      );
    }
    if (this.#natsAuth) {
      const users = [...config.services.map((p) => p.service.name), "the operator"];
      out(
        `  nats users: ${new Intl.ListFormat("en").format(users)}, each with its own permissions; anonymous refused (keys in ${shownPath(join(dataDir, CREDENTIALS_FILE))})`,
      );
    }
    return servers;
  }

  /**
   * One NATS user per service and the operator's, kept in credentials.json (new services get theirs
   * now), and the nats-server configuration with their permissions, written afresh: they follow
   * the code.
   */
  #writeNatsAuth(): void {
    const { dataDir, config } = this.#opts;
    const identities = ensureNatsIdentities(
      dataDir,
      config.services.map((p) => p.service.name),
    );
    this.#operator = identities.operator;
    const tls = this.#tls;
    this.#natsAuth = writeNatsAuth({
      dataDir,
      definitions: config.services.map((p) => p.service.definition),
      namespace: config.namespace,
      identities,
      ...(tls ? { tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key } } : {}),
    });
  }

  /** Every stream and the dead letters, as the operator, before any service starts (see provisionStreams). */
  async #provisionStreams(servers: Servers): Promise<void> {
    const { config } = this.#opts;
    await this.#guard(
      provisionStreams({
        natsUrl: servers.nats.url,
        operator: this.#operator,
        definitions: config.services.map((p) => p.service.definition),
        namespace: config.namespace,
        replicas: config.replicas,
        env: this.#opts.env,
        ...(this.#natsTls
          ? { tls: natsTlsOf(this.#tls!, TLS_OPERATOR) }
          : config.natsUrl !== undefined && config.natsTls
            ? { tls: config.natsTls }
            : {}),
      }),
    );
  }

  /** Their databases, their processes, and their readiness. */
  async #startServices(servers: Servers): Promise<void> {
    const { config, root, dataDir, env, out, err } = this.#opts;
    // Each service's own role and database; empty where the server's user may not create roles.
    const databaseUrls = await this.#guard(
      provisionDatabases(config.services, servers.postgres.url, dataDir, err),
    );
    const services = new ServiceSupervisor({
      root,
      dataDir,
      env: {
        ...withoutSecrets(env, this.#natsAuth !== undefined, this.#natsTls),
        ...config.childEnv,
        ...instancesEnv(config.instances, env),
        NATS_URL: servers.nats.url,
        DATABASE_URL: servers.postgres.url,
        OPERATOR_TOKEN: this.#operatorToken,
      },
      // Its own database role, and on a nats-server we run its own NATS user.
      // With --tls, its own client certificate for both.
      serviceEnv: (plan) => {
        const name = plan.service.name;
        const own = databaseUrls.get(name);
        const tlsUrls =
          this.#postgresTls && own !== undefined
            ? new Map([[name, postgresTlsUrl(own, this.#tls!, name)]])
            : databaseUrls;
        return {
          ...ownDatabaseEnv(plan, config.services, tlsUrls),
          ...this.#natsAuth?.env(name),
          ...(this.#natsTls ? natsTlsEnv(this.#tls!, name) : {}),
        };
      },
      err,
      onFailure: (failure) => this.#abort.abort(failure),
      onRestart: (proc) => this.#onRestart(proc),
    });
    this.#services = services;
    services.start(instancePlans(config.services, config.instances));
    this.#host?.watch(services.pids());
    this.#recordTree();

    const urls = services.processes.map((p) => ({ name: p.name, url: this.#url(p.plan) }));
    await this.#guard(waitReady(urls, this.#abort.signal));
    for (const p of services.processes) out(`  ${label(p.name)}${this.#url(p.plan)}  (pid ${p.child.pid})`);
  }

  async #seed(seed: SeedData): Promise<void> {
    const urls = new Map(this.#opts.config.services.map((plan) => [plan.service.name, this.#url(plan)]));
    const seeded = await this.#guard(
      seedSystem(seed, (name) => urls.get(name)!, this.#operatorToken).catch((err: unknown) => {
        throw new CliError("FAILED", `seeding demo data failed: ${oneLine(err)}`, { cause: err });
      }),
    );
    const { out } = this.#opts;
    if (seeded.created.length) out(`orderflow: demo data created: ${seeded.created.join(", ")}`);
    if (seeded.kept.length) out(`orderflow: demo data kept from earlier runs: ${seeded.kept.join(", ")}`);
  }

  async #startUi(servers: Servers, port: number): Promise<void> {
    const { env, dataDir, config, out, err } = this.#opts;
    const saga = config.services.find((p) => p.service.name === SAGA_SERVICE);
    this.#ui = await startRunnerOpsPage({
      env,
      dataDir,
      servers,
      services: config.services.map((p) => p.service),
      sagaUrl: saga && this.#url(saga),
      operatorToken: this.#operatorToken,
      port,
      out,
      err,
    });
  }

  #onHostExit(how: Exit): void {
    if (!this.#stopping) this.#abort.abort(new CliError("FAILED", `infra host ${describeExit(how)}`));
  }

  /**
   * A server the host spawned died and is started again on the same port and data (the services
   * reconnect by themselves), or the host gave it up: then the run has failed.
   */
  #onServerEvent(event: HostEvent): void {
    const { out, err, dataDir } = this.#opts;
    if (event.type === "server-gave-up") {
      this.#abort.abort(new CliError("FAILED", event.message));
      return;
    }
    if (this.#stopping) return;
    if (event.type === "server-died") {
      err(`orderflow: ${event.name} (pid ${event.pid ?? "?"}) died (${event.exit}); restarting`);
      return;
    }
    // The new pid in orderflow.pid; servers.json again (the same URLs: same ports).
    this.#recordTree();
    const servers = this.#servers;
    if (servers)
      writeServersFile(dataDir, servers, this.#natsTls ? natsTlsOf(this.#tls!, TLS_OPERATOR) : undefined);
    const node = servers?.natsNodes?.find((n) => `nats-${n.name}` === event.name);
    const [label, url] = node
      ? [`nats ${node.name}`, node.url]
      : event.name === "nats-server"
        ? ["nats", servers?.nats.url]
        : ["postgres", servers?.postgres.url];
    out(`  ${label.padEnd(10)}${url ?? ""}  (pid ${event.pid ?? "?"}, restarted)`);
  }

  #onRestart(proc: ServiceProcess): void {
    const pid = proc.child.pid;
    this.#recordTree();
    if (!pid) return;
    this.#host?.watch([pid]);
    this.#opts.out(`  ${label(proc.name)}${this.#url(proc.plan)}  (pid ${pid}, restarted)`);
  }

  /** Services first (they finish in-flight work and drain), then the servers, then the lock. */
  async #shutdown(): Promise<void> {
    this.#stopping = true;
    // The page must not hold the stop: NATS or PostgreSQL may be gone already.
    if (this.#ui)
      await withDeadline(
        this.#ui.close().catch(() => {}),
        1000,
      );
    await this.#services?.stop();
    await this.#host?.stop();
    if (this.#lock) {
      removeServersFile(this.#opts.dataDir);
      this.#lock.release();
    }
  }

  #force(): void {
    this.#forced = true;
    this.#stopping = true;
    this.#services?.kill();
    this.#host?.kill();
  }

  /** A step of the start, given up as soon as the run is aborted. */
  #guard<T>(p: Promise<T>): Promise<T> {
    return abortable(p, this.#abort.signal);
  }

  #recordTree(): void {
    this.#lock?.record([...(this.#host?.entries() ?? []), ...(this.#services?.entries() ?? [])]);
  }

  #url(plan: ServicePlan): string {
    return serviceUrl(this.#opts.config.host, plan.port);
  }
}

/** A process's name in the start lines, aligned with the servers' (`inventory-2` is longer). */
const label = (name: string): string => name.padEnd(Math.max(10, name.length + 1));

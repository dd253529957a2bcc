import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { freePort, waitFor } from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { request } from "./http.js";
import {
  alive,
  assertBuilt,
  cleanEnv,
  CliProcess,
  FIXTURE_CONFIG,
  killAll,
  pidsMentioning,
  readProcessTree,
  REPO_ROOT,
  runCli,
} from "../test/up-process.js";

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
};

/** A temp dir the embedded PostgreSQL (running as `postgres` when we are root) can reach. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** The operator token `orderflow up` keeps in the data dir. */
const operatorToken = (dataDir: string): string =>
  (JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8")) as { http: { operatorToken: string } })
    .http.operatorToken;
const asOperator = (dataDir: string, url: string, body: unknown) =>
  request("PUT", url, body, { headers: { authorization: `Bearer ${operatorToken(dataDir)}` } });

/** The NKey seed `orderflow up` keeps for a NATS identity (a service's name, or `operator`). */
const natsSeed = (dataDir: string, identity: string): string =>
  (
    JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8")) as {
      nats: Record<string, { nkeySeed: string }>;
    }
  ).nats[identity]!.nkeySeed;
const natsUrlOf = (dataDir: string): string =>
  (JSON.parse(readFileSync(join(dataDir, "servers.json"), "utf8")) as { natsUrl: string }).natsUrl;

/** Connects to the runner's nats-server as a service (its seed and inbox prefix) or as the operator. */
function connectAs(dataDir: string, identity: string): Promise<NatsConnection> {
  const inbox = identity === "operator" ? OPERATOR_IDENTITY : identity;
  return connect({
    servers: natsUrlOf(dataDir),
    authenticator: nkeyAuthenticator(new TextEncoder().encode(natsSeed(dataDir, identity))),
    inboxPrefix: natsInboxPrefix(inbox),
    maxReconnectAttempts: 0,
  });
}

interface Up {
  readonly proc: CliProcess;
  /** name → pid for the runner, infra-host, nats-server, postgres and every service. */
  readonly tree: Map<string, number>;
  readonly url: (service: string) => string;
}

/**
 * `orderflow up` on its own spawned nats-server and embedded PostgreSQL in `dataDir` (NATS_URL and
 * DATABASE_URL unset), with free ports; resolves once it printed its ready line.
 */
async function startUp(
  dataDir: string,
  opts: {
    /** Default: the repository's orderflow.config.ts, found from the working directory. */
    config?: string;
    services: readonly string[];
    env?: Record<string, string>;
    leftovers: Set<number>;
    /** Started in a beforeAll: the suite stops it (default: stopped when the test finishes). */
    shared?: boolean;
  },
): Promise<Up> {
  const ports: Record<string, number> = {};
  for (const s of opts.services) ports[s] = await freePort();
  const env = cleanEnv({
    ...Object.fromEntries(opts.services.map((s) => [`${s.toUpperCase()}_PORT`, String(ports[s])])),
    ...opts.env,
  });
  const args = ["up", "--data-dir", dataDir, ...(opts.config ? ["--config", opts.config] : [])];
  const proc = new CliProcess(args, env);
  opts.leftovers.add(proc.pid);
  const tree = new Map<string, number>();
  // A test that fails half-way must not leave its runner holding the data dir for the next one.
  if (!opts.shared)
    onTestFinished(async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill("SIGTERM");
      const stopped = await waitFor(
        "runner exit",
        () => proc.child.exitCode !== null || proc.child.signalCode !== null,
        {
          timeoutMs: 8000,
        },
      ).then(
        () => true,
        () => false,
      );
      if (!stopped) killAll([proc.pid, ...tree.values()]);
    });
  await proc.line(/^orderflow: ready in [\d.]+ s/, 30_000);
  for (const [name, pid] of readProcessTree(dataDir)) {
    tree.set(name, pid);
    opts.leftovers.add(pid);
  }
  return { proc, tree, url: (s) => `http://127.0.0.1:${ports[s]}` };
}

describe("orderflow up with a stand-in service", () => {
  let tmp: string;
  const leftovers = new Set<number>();
  const up = (dataDir: string, env: Record<string, string> = {}) =>
    startUp(dataDir, { config: FIXTURE_CONFIG, services: ["inventory"], env, leftovers });

  beforeAll(() => {
    assertBuilt();
    tmp = tempDir("orderflow-cli-up-");
  });
  // Several PostgreSQL data directories: removing them takes a while on a busy disk.
  afterAll(() => {
    killAll(leftovers);
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it("starts NATS, PostgreSQL and the service, seeds, and on SIGTERM stops every process and exits 0", async () => {
    const dataDir = join(tmp, "graceful");
    const { proc, tree, url } = await up(dataDir);

    expect(proc.stdout).toContain(`orderflow: data in ${dataDir}`);
    expect(proc.stdout.join("\n")).toMatch(
      /^ {2}nats {6}nats:\/\/127\.0\.0\.1:\d+ {2}\(nats-server, store .*, pid \d+\)$/m,
    );
    expect(proc.stdout.join("\n")).toMatch(
      /^ {2}postgres {2}postgres:\/\/\S+ {2}\(embedded, data .*, pid \d+\)$/m,
    );
    const line = await proc.line(/^ {2}inventory (http:\/\/\S+) {2}\(pid (\d+)\)$/);
    expect(line[1]).toBe(url("inventory"));
    expect(Number(line[2])).toBe(tree.get("inventory"));
    expect([...tree.keys()].sort()).toEqual(["infra-host", "inventory", "nats-server", "postgres", "runner"]);
    for (const pid of tree.values()) expect(alive(pid)).toBe(true);

    expect((await request("GET", `${url("inventory")}/readyz`)).status).toBe(200);
    expect((await request("GET", `${url("inventory")}/stock/sku-apple`)).body).toMatchObject({
      available: 100,
    });
    // Seeded with the operator token it generated and keeps, private to the user; without it, refused.
    const credentials = join(dataDir, "credentials.json");
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    const token = operatorToken(dataDir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await request("PUT", `${url("inventory")}/stock/sku-apple`, { available: 1 })).status).toBe(401);
    // Its database is owned by a role of its own, kept with the operator's; the service knows only its own URL.
    const { postgres } = JSON.parse(readFileSync(credentials, "utf8")) as {
      postgres: Record<string, string>;
    };
    expect(Object.keys(postgres).sort()).toEqual(["@operator", "inventory"]);
    expect(new URL(postgres.inventory!).username).toBe("inventory_owner");
    expect(new URL(postgres["@operator"]!).username).toMatch(/^orderflow_operator_[0-9a-f]{8}$/);
    const serviceEnv = readFileSync(`/proc/${tree.get("inventory")}/environ`, "utf8").split("\0");
    expect(serviceEnv).toContain(`INVENTORY_DATABASE_URL=${postgres.inventory}`);
    expect(
      serviceEnv.filter((v) => /DATABASE_URL=/.test(v) && !v.endsWith(`=${postgres.inventory}`)),
    ).toEqual([]);
    // NATS: one NKey user for the service and one for the operator, kept there too; anonymous refused.
    expect(proc.stdout).toContain(
      `  nats users: inventory and the operator, each with its own permissions; anonymous refused (keys in ${credentials})`,
    );
    for (const identity of ["inventory", "operator"])
      expect(natsSeed(dataDir, identity)).toMatch(/^SU[A-Z2-7]{56}$/);
    await expect(connect({ servers: natsUrlOf(dataDir), maxReconnectAttempts: 0 })).rejects.toThrow(
      /authorization violation/i,
    );
    // Where `npx orderflow` finds these servers when NATS_URL / DATABASE_URL are not set.
    const servers = JSON.parse(readFileSync(join(dataDir, "servers.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const printed = proc.stdout.join("\n");
    expect(servers.pid).toBe(tree.get("runner"));
    expect(printed).toContain(`  nats      ${servers.natsUrl as string}  `);
    expect(printed).toContain(`  postgres  ${servers.databaseUrl as string}  `);

    proc.child.kill("SIGTERM");
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.stdout.at(-1)).toBe("orderflow: stopped");
    expect(existsSync(join(dataDir, "servers.json"))).toBe(false);
    for (const [name, pid] of tree) expect(gone(pid), `${name} (pid ${pid}) is gone`).toBe(true);
    expect(existsSync(join(dataDir, "orderflow.pid"))).toBe(false);
    expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
    expect(existsSync(join(dataDir, "nats", "nats-server.pid"))).toBe(false);
  }, 60_000);

  it("after kill -9 of the runner the services exit by themselves, the servers follow, and a restart keeps the data", async () => {
    const dataDir = join(tmp, "runner-killed");
    const first = await up(dataDir);
    const token = operatorToken(dataDir);
    const seeds = { inventory: natsSeed(dataDir, "inventory"), operator: natsSeed(dataDir, "operator") };
    expect(
      (await asOperator(dataDir, `${first.url("inventory")}/stock/sku-apple`, { available: 7 })).status,
    ).toBe(200);

    first.proc.child.kill("SIGKILL");
    expect(await first.proc.exited).toEqual({ code: null, signal: "SIGKILL" });
    // Nobody signals the service: it notices its parent's death on the IPC channel.
    await waitFor("the service to exit", () => !alive(first.tree.get("inventory")!), { timeoutMs: 15_000 });
    await waitFor(
      "every process of the killed run to exit",
      () => [...first.tree.values()].every((pid) => !alive(pid)),
      {
        timeoutMs: 30_000,
      },
    );

    const second = await up(dataDir);
    expect(second.proc.stdout).toContain(
      "orderflow: demo data kept from earlier runs: stock sku-apple, stock sku-pear, stock sku-rare",
    );
    expect((await request("GET", `${second.url("inventory")}/stock/sku-apple`)).body).toMatchObject({
      available: 7,
    });
    // The same token and NATS keys after a restart, and the service connects with its key.
    expect(operatorToken(dataDir)).toBe(token);
    expect(natsSeed(dataDir, "inventory")).toBe(seeds.inventory);
    expect(natsSeed(dataDir, "operator")).toBe(seeds.operator);
    expect(
      (await asOperator(dataDir, `${second.url("inventory")}/stock/sku-apple`, { available: 8 })).status,
    ).toBe(200);
    second.proc.child.kill("SIGTERM");
    expect((await second.proc.exited).code).toBe(0);
  }, 90_000);

  it("after kill -9 of every process, a restart removes the stale pid files and recovers the data", async () => {
    const dataDir = join(tmp, "all-killed");
    const first = await up(dataDir);
    expect(
      (await asOperator(dataDir, `${first.url("inventory")}/stock/sku-pear`, { available: 3 })).status,
    ).toBe(200);
    killAll(first.tree.values());
    await waitFor("every process to die", () => [...first.tree.values()].every((pid) => !alive(pid)), {
      timeoutMs: 10_000,
    });
    expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(true);

    const second = await up(dataDir);
    expect(second.proc.stdout.join("\n")).toMatch(
      /^orderflow: removed .*postmaster\.pid left by an earlier run/m,
    );
    expect((await request("GET", `${second.url("inventory")}/stock/sku-pear`)).body).toMatchObject({
      available: 3,
    });

    // While it runs, a second runner on the same data dir stops at once, naming the first.
    const other = await runCli(
      ["up", "--data-dir", dataDir, "--config", FIXTURE_CONFIG],
      cleanEnv({ INVENTORY_PORT: "1" }),
    );
    expect(other.stderr).toEqual([`orderflow: another orderflow is running (pid ${second.proc.pid})`]);
    expect(other.code).toBe(1);

    second.proc.child.kill("SIGTERM");
    expect((await second.proc.exited).code).toBe(0);
  }, 90_000);

  it("a service killed after the start is restarted, keeps its data, and the whole still stops cleanly", async () => {
    const dataDir = join(tmp, "restart");
    const { proc, tree, url } = await up(dataDir);
    const first = tree.get("inventory")!;
    process.kill(first, "SIGKILL");
    const line = await proc.line(/^ {2}inventory (http:\/\/\S+) {2}\(pid (\d+), restarted\)$/, 20_000);
    const second = Number(line[2]);
    leftovers.add(second);
    expect(second).not.toBe(first);
    expect(readProcessTree(dataDir).get("inventory")).toBe(second);
    await waitFor(
      "the restarted service ready",
      async () => (await request("GET", `${url("inventory")}/readyz`)).status === 200,
    );
    expect((await request("GET", `${url("inventory")}/stock/sku-apple`)).body).toMatchObject({
      available: 100,
    });

    proc.child.kill("SIGTERM");
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(gone(second)).toBe(true);
  }, 60_000);

  it("its nats-server dying too often is given up with one line: everything stopped, exit 1", async () => {
    const dataDir = join(tmp, "nats-crash-loop");
    const { proc, tree } = await up(dataDir);
    const pids = [tree.get("nats-server")!];
    const restartedLines = () => proc.stdout.filter((l) => /^ {2}nats .*\(pid \d+, restarted\)$/.test(l));
    // Five deaths within a minute are restarted, as a service's are…
    for (let i = 1; i <= 5; i++) {
      process.kill(pids.at(-1)!, "SIGKILL");
      const line = await waitFor(`restart ${i}`, () => restartedLines()[i - 1], { timeoutMs: 20_000 });
      pids.push(Number(/pid (\d+), restarted/.exec(line)![1]));
      leftovers.add(pids.at(-1)!);
    }
    // …the sixth is not.
    process.kill(pids.at(-1)!, "SIGKILL");
    const exit = await proc.closed;
    const out = proc.output();
    expect(exit, out).toEqual({ code: 1, signal: null });
    expect(
      proc.stderr.filter((l) => l.startsWith("orderflow: nats-server ")),
      out,
    ).toEqual([
      ...pids
        .slice(0, 5)
        .map((pid) => `orderflow: nats-server (pid ${pid}) died (signal SIGKILL); restarting`),
      `orderflow: nats-server (pid ${pids[5]}) died (signal SIGKILL), 6 times within 60 s; giving up, stopping everything`,
    ]);
    for (const pid of [...tree.values(), ...pids]) expect(gone(pid), `pid ${pid} is gone`).toBe(true);
    expect(existsSync(join(dataDir, "orderflow.pid"))).toBe(false);
    expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  }, 120_000);

  it("under `npm start`, a SIGTERM to npm alone (as `timeout` or a process manager sends) stops everything gracefully", async () => {
    const dataDir = join(tmp, "npm-sigterm");
    // npm forwards the signal to its script's shell; the script execs the runner, so that is the runner.
    const npm = spawn("npm", ["start", "--", "--data-dir", dataDir, "--config", FIXTURE_CONFIG], {
      cwd: REPO_ROOT,
      env: cleanEnv({ INVENTORY_PORT: String(await freePort()) }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    leftovers.add(npm.pid!);
    let output = "";
    npm.stdout.on("data", (b: Buffer) => (output += b.toString()));
    npm.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const exited = new Promise((resolve) => npm.once("exit", resolve));
    onTestFinished(() => killAll([npm.pid!]));
    await waitFor("ready", () => /^orderflow: ready in/m.test(output), { timeoutMs: 60_000 }).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${output}`);
      },
    );
    const tree = readProcessTree(dataDir);
    for (const pid of tree.values()) leftovers.add(pid);
    expect([...tree.keys()].sort()).toEqual(["infra-host", "inventory", "nats-server", "postgres", "runner"]);

    npm.kill("SIGTERM");
    await exited;
    await waitFor("every process to exit", () => [...tree.values()].every((pid) => !alive(pid)), {
      timeoutMs: 30_000,
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${output}`);
    });
    expect(output).toMatch(/^orderflow: SIGTERM, stopping gracefully/m);
    expect(output).toMatch(/^orderflow: stopped$/m);
    expect(existsSync(join(dataDir, "orderflow.pid"))).toBe(false);
  }, 90_000);

  it("a service that exits while starting: its last stderr lines, everything stopped, exit 1", async () => {
    const dataDir = join(tmp, "early-exit");
    const proc = new CliProcess(
      ["up", "--data-dir", dataDir, "--config", FIXTURE_CONFIG],
      cleanEnv({ INVENTORY_PORT: String(await freePort()), FIXTURE_FAIL_ON_START: "1" }),
    );
    leftovers.add(proc.pid);
    onTestFinished(() => killAll([proc.pid]));
    const exit = await proc.closed;
    const out = proc.output();
    expect(exit, out).toEqual({ code: 1, signal: null });

    const log = join(dataDir, "logs", "inventory.stderr.log");
    const header = proc.stderr.indexOf(`orderflow: last stderr lines of inventory (all of it in ${log}):`);
    expect(header, out).toBeGreaterThanOrEqual(0);
    const last = proc.stderr.slice(header + 1).filter(Boolean);
    expect(last).toEqual([
      "    fixture: something is about to go wrong",
      expect.stringMatching(/^ {4}inventory: failed to start: .*told to fail at start/),
      "orderflow: inventory exited with code 1",
    ]);
    // Live, too: the lines reached our stderr as the service wrote them.
    expect(proc.stderr.slice(0, header)).toContain("fixture: something is about to go wrong");
    expect(readFileSync(log, "utf8")).toMatch(/told to fail at start/);

    // The servers it had started are stopped, and nothing started for this data dir is left.
    const serverPids = proc.stdout.flatMap(
      (l) => /^ {2}(?:nats|postgres) .*, pid (\d+)\)$/.exec(l)?.[1] ?? [],
    );
    expect(serverPids, out).toHaveLength(2);
    for (const pid of serverPids) expect(gone(Number(pid)), `server pid ${pid} is gone`).toBe(true);
    const left = pidsMentioning(dataDir);
    if (left) expect(left).toEqual([]);
    expect(existsSync(join(dataDir, "orderflow.pid"))).toBe(false);
    expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  }, 60_000);

  it("a second signal forces: a service stuck on stop is killed, nothing is left, exit 130", async () => {
    const dataDir = join(tmp, "forced");
    const { proc, tree } = await up(dataDir, { FIXTURE_STUCK_ON_STOP: "1" });
    proc.child.kill("SIGINT");
    await proc.line(/^orderflow: SIGINT, stopping gracefully/);
    // Stuck: the graceful stop cannot finish by itself.
    expect(alive(tree.get("inventory")!)).toBe(true);
    // A second Ctrl-C (signals right after the first count as copies of it, as npm forwards them).
    await waitFor(
      "the runner to take a second SIGINT as forcing",
      () => {
        if (proc.stdout.includes("orderflow: SIGINT again, forcing")) return true;
        proc.child.kill("SIGINT");
        return false;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(await proc.exited).toEqual({ code: 130, signal: null });
    await waitFor("every process to exit", () => [...tree.values()].every((pid) => !alive(pid)), {
      timeoutMs: 10_000,
    });
  }, 60_000);
});

const SERVICES = ["order", "inventory", "billing", "saga"] as const;
const servicesBuilt = SERVICES.every((s) => existsSync(join(REPO_ROOT, "services", s, "dist", "main.js")));

describe.skipIf(!servicesBuilt)("orderflow up with the four services", () => {
  let dataDir: string;
  const leftovers = new Set<number>();
  const up = () => startUp(dataDir, { services: SERVICES, leftovers });

  // In beforeAll, not at collection: a skipped suite must not leave a directory behind.
  let tmp: string;
  beforeAll(() => {
    assertBuilt();
    tmp = tempDir("orderflow-cli-up4-");
    dataDir = join(tmp, "data");
  });
  // Several PostgreSQL data directories: removing them takes a while on a busy disk.
  afterAll(() => {
    killAll(leftovers);
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  describe("running, each service its own NATS user", () => {
    let sys: Up;
    beforeAll(async () => {
      sys = await startUp(dataDir, { services: SERVICES, leftovers, shared: true });
    }, 60_000);
    const messages = async (stream: string) => {
      const nc = await connectAs(dataDir, "operator");
      try {
        return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
      } finally {
        await nc.close();
      }
    };

    it("starts everything from nothing within 30 s and runs the demo", async () => {
      const { proc, url } = sys;
      for (const s of SERVICES) {
        const line = await proc.line(new RegExp(`^ {2}${s} +(http://\\S+) {2}\\(pid (\\d+)\\)$`));
        expect(line[1]).toBe(url(s));
        expect((await request("GET", `${url(s)}/readyz`)).status, `${s} /readyz`).toBe(200);
      }
      expect(proc.stdout.join("\n")).toContain("orderflow: demo data created:");

      const demo = await runCli(
        ["demo"],
        cleanEnv({
          ORDER_URL: url("order"),
          INVENTORY_URL: url("inventory"),
          BILLING_URL: url("billing"),
          SAGA_URL: url("saga"),
        }),
      );
      const text = demo.stdout.join("\n");
      expect(demo.code, `${text}\n${demo.stderr.join("\n")}`).toBe(0);
      expect(text).toMatch(/1\. confirmed: .*\n {3}order \S+: CONFIRMED/);
      expect(text).toMatch(/2\. out of stock: .*\n {3}order \S+: CANCELLED \(/);
      expect(text).toMatch(/3\. payment declined: .*\n {3}order \S+: CANCELLED \(/);
      expect(text).toMatch(/ → /);
    }, 60_000);

    it("refuses a connection without credentials", async () => {
      await expect(connect({ servers: natsUrlOf(dataDir), maxReconnectAttempts: 0 })).rejects.toThrow(
        /authorization violation/i,
      );
    });

    describe("with inventory's key from credentials.json", () => {
      let nc: NatsConnection;
      beforeAll(async () => {
        nc = await connectAs(dataDir, "inventory");
      });
      afterAll(async () => {
        await nc?.close();
      });

      it.each([
        ["a billing event", "billing.payment.charged", "BILLING"],
        ["an order event", "orders.order.created", "ORDERS"],
        ["another subject of the order stream", "orders.order.anything", "ORDERS"],
        ["a saga request", "saga.inventory.release.requested", "SAGA"],
      ])(
        "publishing %s (%s) is a permission violation and stores nothing",
        async (_what, subject, stream) => {
          const before = await messages(stream);
          await expect(jetstream(nc).publish(subject, "{}")).rejects.toThrow(
            /permissions violation for publish/i,
          );
          expect(await messages(stream)).toBe(before);
        },
      );

      it("asking billing to pause on its control subject is a permission violation", async () => {
        await expect(nc.request("orderflow.control.billing", "pause", { timeout: 3000 })).rejects.toThrow(
          /permissions violation for publish/i,
        );
      });
    });

    it("the operator's key pauses and resumes a service", async () => {
      const nc = await connectAs(dataDir, "operator");
      try {
        const ask = async (command: string) =>
          (await nc.request("orderflow.control.inventory", command, { timeout: 20_000 })).string();
        expect(await ask("pause")).toBe("paused");
        expect(await ask("resume")).toBe("running");
      } finally {
        await nc.close();
      }
    });

    it("`orderflow consumers` beside it connects as the operator; without the operator's key it is refused", async () => {
      const listed = await runCli(["consumers", "--json"], cleanEnv({ ORDERFLOW_DATA_DIR: dataDir }));
      expect(listed.code, listed.stderr.join("\n")).toBe(0);
      const durables = (JSON.parse(listed.stdout.join("\n")) as { stream: string; consumer: string }[]).map(
        (c) => `${c.stream}/${c.consumer}`,
      );
      expect(durables).toEqual(expect.arrayContaining(["ORDERS/inventory", "ORDERS/billing", "SAGA/order"]));

      // The same server named by NATS_URL from elsewhere, without ORDERFLOW_NATS_NKEY_SEED: anonymous.
      const anonymous = await runCli(
        ["consumers"],
        cleanEnv({ NATS_URL: natsUrlOf(dataDir), ORDERFLOW_DATA_DIR: join(tmp, "elsewhere") }),
      );
      expect(anonymous.stderr).toEqual([
        expect.stringMatching(/^orderflow: ORDERFLOW_NATS_NKEY_SEED: .* refuses anonymous connections/),
      ]);
      expect(anonymous.code).toBe(2);
      // A service's key is not the operator's: it may not even read the operator's replies.
      const asInventory = await runCli(
        ["consumers"],
        cleanEnv({
          NATS_URL: natsUrlOf(dataDir),
          ORDERFLOW_DATA_DIR: join(tmp, "elsewhere"),
          ORDERFLOW_NATS_NKEY_SEED: natsSeed(dataDir, "inventory"),
        }),
      );
      expect(asInventory.stderr).toEqual([
        expect.stringMatching(/^orderflow: Permissions Violation for Subscription to "_INBOX_orderflow\./),
      ]);
      expect(asInventory.code).toBe(1);
    }, 30_000);

    /** An order of one apple by alice (who can pay for it): CONFIRMED once the saga is through. */
    const placeOrder = async () => {
      const res = await request<{ orderId?: string }>(
        "POST",
        `${sys.url("order")}/orders`,
        { customerId: "alice", items: [{ sku: "sku-apple", quantity: 1 }] },
        { headers: { "idempotency-key": randomUUID() } },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.orderId!;
    };
    const settled = (orderId: string) =>
      waitFor(
        `order ${orderId} to leave PENDING`,
        async () => {
          const r = await request<{ status: string }>("GET", `${sys.url("order")}/orders/${orderId}`).catch(
            () => undefined,
          );
          return r?.status === 200 && r.body.status !== "PENDING" ? r.body.status : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );

    it.each([
      ["nats-server", "nats"],
      ["postgres", "postgres"],
    ])(
      "its %s killed -9 is restarted on the same port and data, the pid files follow, the services recover and no order is lost",
      async (server, label) => {
        const { proc, tree } = sys;
        const servers = readFileSync(join(dataDir, "servers.json"), "utf8");
        const pid = tree.get(server)!;
        const before = await placeOrder();
        process.kill(pid, "SIGKILL");

        const died = `orderflow: ${server} (pid ${pid}) died (signal SIGKILL); restarting`;
        await waitFor("the death logged", () => proc.stderr.includes(died), { timeoutMs: 15_000 }).catch(
          (err: unknown) => {
            throw new Error(`${(err as Error).message}\n${proc.output()}`);
          },
        );
        const line = await proc.line(
          new RegExp(`^ {2}${label} +(\\S+) {2}\\(pid (\\d+), restarted\\)$`),
          60_000,
        );
        const next = Number(line[2]);
        leftovers.add(next);
        tree.set(server, next);
        expect(next).not.toBe(pid);
        expect(alive(next)).toBe(true);
        expect(readProcessTree(dataDir).get(server)).toBe(next);
        // The same port: servers.json (what `npx orderflow` and the services connect to) is unchanged.
        expect(readFileSync(join(dataDir, "servers.json"), "utf8")).toBe(servers);
        expect(servers).toContain(line[1]);

        // The services reconnect by themselves.
        for (const s of SERVICES)
          await waitFor(
            `${s} /readyz 200 again`,
            async () => (await request("GET", `${sys.url(s)}/readyz`).catch(() => undefined))?.status === 200,
            { timeoutMs: 60_000, intervalMs: 250 },
          );
        // The order placed just before the kill is not lost; one placed after goes through.
        expect(["CONFIRMED", "CANCELLED"]).toContain(await settled(before));
        expect(await settled(await placeOrder())).toBe("CONFIRMED");
        expect(proc.stderr.filter((l) => l.startsWith(`orderflow: ${server} `))).toEqual([died]);
      },
      150_000,
    );

    it("stops every process on SIGTERM", async () => {
      const { proc, tree } = sys;
      proc.child.kill("SIGTERM");
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      for (const [name, pid] of tree) expect(gone(pid), `${name} (pid ${pid}) is gone`).toBe(true);
    }, 60_000);
  });

  it("after kill -9 of the runner the services exit by themselves, and a restart finds the seeded stock", async () => {
    const first = await up();
    const before = await request<{ available: number }>("GET", `${first.url("inventory")}/stock/sku-rare`);
    expect(before.status).toBe(200);
    first.proc.child.kill("SIGKILL");
    await first.proc.exited;
    await waitFor("the services to exit", () => SERVICES.every((s) => !alive(first.tree.get(s)!)), {
      timeoutMs: 20_000,
    });
    await waitFor("the servers to exit", () => [...first.tree.values()].every((pid) => !alive(pid)), {
      timeoutMs: 30_000,
    });

    const second = await up();
    expect(second.proc.stdout.join("\n")).toMatch(
      /^orderflow: demo data kept from earlier runs: .*stock sku-rare/m,
    );
    expect((await request("GET", `${second.url("inventory")}/stock/sku-rare`)).body).toMatchObject({
      available: before.body.available,
    });
    second.proc.child.kill("SIGTERM");
    expect((await second.proc.exited).code).toBe(0);
  }, 120_000);
});

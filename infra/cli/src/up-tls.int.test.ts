import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { freePort, waitFor } from "@orderflow/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "./http.js";
import {
  assertBuilt,
  cleanEnv,
  CliProcess,
  killAll,
  readProcessTree,
  REPO_ROOT,
  runCli,
} from "../test/up-process.js";

// `orderflow up --tls` with the four services, started once: everything runs over mutual TLS, and
// a client without TLS, or without a certificate from the run's CA, is refused by both servers.

const SERVICES = ["order", "inventory", "billing", "saga"] as const;
const servicesBuilt = SERVICES.every((s) => existsSync(join(REPO_ROOT, "services", s, "dist", "main.js")));

interface ServersFile {
  pid: number;
  natsUrl: string;
  databaseUrl: string;
  natsTls: { caFile: string; certFile: string; keyFile: string };
}

describe.skipIf(!servicesBuilt)("orderflow up --tls with the four services", () => {
  let tmp: string;
  let dataDir: string;
  let proc: CliProcess;
  const ports: Record<string, number> = {};
  const leftovers = new Set<number>();
  const url = (s: string) => `http://127.0.0.1:${ports[s]}`;
  const servers = () => JSON.parse(readFileSync(join(dataDir, "servers.json"), "utf8")) as ServersFile;
  const credentials = () =>
    JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8")) as {
      http: { operatorToken: string };
      nats: Record<string, { nkeySeed: string }>;
    };
  const tlsDir = () => join(dataDir, "tls");
  /** As the operator (its NKey and inbox), with `tls` as given. */
  const connectOperator = (tls?: ConnectionOptions["tls"]) =>
    connect({
      servers: servers().natsUrl,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(credentials().nats.operator!.nkeySeed)),
      inboxPrefix: natsInboxPrefix(OPERATOR_IDENTITY),
      maxReconnectAttempts: 0,
      timeout: 5000,
      ...(tls === undefined ? {} : { tls }),
    });
  const pgRefusal = async (connectionString: string): Promise<string> => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return "connected";
    } catch (err) {
      return String(err);
    }
  };

  beforeAll(async () => {
    assertBuilt();
    tmp = mkdtempSync(join(tmpdir(), "orderflow-cli-up-tls-"));
    // The embedded PostgreSQL (run as `postgres` when we are root) must reach its data dir.
    chmodSync(tmp, 0o755);
    dataDir = join(tmp, "data");
    for (const s of SERVICES) ports[s] = await freePort();
    const env = cleanEnv(
      Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_PORT`, String(ports[s])])),
    );
    proc = new CliProcess(["up", "--tls", "--data-dir", dataDir], env);
    leftovers.add(proc.pid);
    await proc.line(/^orderflow: ready in [\d.]+ s/, 60_000);
    for (const pid of readProcessTree(dataDir).values()) leftovers.add(pid);
  }, 90_000);

  afterAll(async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill("SIGTERM");
      await waitFor("runner exit", () => proc.child.exitCode !== null || proc.child.signalCode !== null, {
        timeoutMs: 30_000,
      }).catch(() => undefined);
    }
    killAll(leftovers);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it("makes its CA and certificates under .data/tls (keys 0600) and says what requires TLS", () => {
    expect(proc.stdout).toContain(
      `  tls: NATS and PostgreSQL require TLS with a client certificate (certificates in ${tlsDir()})`,
    );
    for (const key of [
      "ca.key",
      "server.key",
      ...SERVICES.map((s) => `clients/${s}.key`),
      "clients/operator.key",
    ])
      expect(statSync(join(tlsDir(), key)).mode & 0o777, key).toBe(0o600);
    const s = servers();
    expect(s.natsTls).toEqual({
      caFile: join(tlsDir(), "ca.crt"),
      certFile: join(tlsDir(), "clients", "operator.crt"),
      keyFile: join(tlsDir(), "clients", "operator.key"),
    });
    const db = new URL(s.databaseUrl);
    expect(db.searchParams.get("sslmode")).toBe("verify-full");
    expect(db.searchParams.get("sslrootcert")).toBe(join(tlsDir(), "ca.crt"));
  });

  it("an order placed over HTTP reaches CONFIRMED, every hop over mutual TLS", async () => {
    const created = await request("POST", `${url("order")}/orders`, {
      customerId: "alice",
      items: [{ sku: "sku-apple", quantity: 1 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { orderId } = created.body as { orderId: string };
    let status = "";
    await waitFor(
      "order CONFIRMED",
      async () => {
        status = ((await request("GET", `${url("order")}/orders/${orderId}`)).body as { status: string })
          .status;
        return status === "CONFIRMED";
      },
      { timeoutMs: 20_000 },
    ).catch(() => undefined);
    expect(status).toBe("CONFIRMED");
  }, 30_000);

  it("each service reaches PostgreSQL over TLS with its own client certificate", async () => {
    const client = new pg.Client({ connectionString: servers().databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ usename: string; ssl: boolean; client_dn: string | null }>(
        `SELECT a.usename, s.ssl, s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.backend_type = 'client backend'`,
      );
      expect(rows.every((r) => r.ssl && r.client_dn !== null)).toBe(true);
      const dns = new Set(rows.map((r) => r.client_dn));
      for (const s of SERVICES) expect(dns).toContain(`/CN=orderflow ${s}`);
    } finally {
      await client.end();
    }
  });

  it("NATS refuses a plain connection: the server requires TLS", async () => {
    const { port } = new URL(servers().natsUrl);
    const socket = createConnection({ host: "127.0.0.1", port: Number(port) });
    let received = "";
    socket.on("data", (b: Buffer) => {
      received += b.toString();
      // A client that does not start TLS and speaks plain protocol instead.
      if (received.startsWith("INFO ") && received.includes("\r\n") && !socket.writableEnded)
        socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
    });
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    expect(received).toMatch(/"tls_required":true/);
    expect(received).not.toContain("PONG");
  });

  it("NATS refuses TLS without a client certificate, even with the operator's NKey", async () => {
    // The server ends the handshake for want of a certificate; nats.js gives up at its timeout.
    await expect(connectOperator({ caFile: join(tlsDir(), "ca.crt") })).rejects.toThrow();
    // nats.js starts TLS by itself when the server requires it: the run's CA is no public one.
    await expect(connectOperator()).rejects.toThrow(/certificate/);
    // With the operator's certificate it connects; the certificate alone is not an identity.
    const nc = await connectOperator(servers().natsTls);
    try {
      expect((await (await jetstreamManager(nc)).streams.info("ORDERS")).config.name).toBe("ORDERS");
    } finally {
      await nc.close();
    }
    await expect(
      connect({ servers: servers().natsUrl, maxReconnectAttempts: 0, tls: servers().natsTls }),
    ).rejects.toThrow(/authorization violation/i);
  }, 30_000);

  it("PostgreSQL refuses a connection without TLS, and TLS without a client certificate", async () => {
    const tlsUrl = new URL(servers().databaseUrl);
    const plain = new URL(tlsUrl);
    plain.search = "";
    expect(await pgRefusal(plain.toString())).toMatch(/no pg_hba\.conf entry .*no encryption/);
    const noCert = new URL(tlsUrl);
    noCert.searchParams.delete("sslcert");
    noCert.searchParams.delete("sslkey");
    expect(await pgRefusal(noCert.toString())).toMatch(/certificate/i);
    expect(await pgRefusal(tlsUrl.toString())).toBe("connected");
  });

  it("`orderflow consumers --json` beside it connects over mutual TLS as the operator", async () => {
    const listed = await runCli(["consumers", "--json"], cleanEnv({ ORDERFLOW_DATA_DIR: dataDir }));
    expect(listed.code, listed.stderr.join("\n")).toBe(0);
    const consumers = JSON.parse(listed.stdout.join("\n")) as { stream: string; consumer: string }[];
    expect(consumers).toContainEqual(expect.objectContaining({ stream: "ORDERS", consumer: "inventory" }));
  });
});

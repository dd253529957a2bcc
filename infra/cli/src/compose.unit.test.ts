import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { baseConfigShape } from "@orderflow/host";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../test/up-process.js";
import { NATS_AUTH_CONFIG, NATS_SECRETS_DIR } from "./runner/nats-auth.js";
import { TLS_DIR } from "./runner/tls-certs.js";

interface ComposeService {
  image?: string;
  build?: { context?: string; target?: string; args?: Record<string, string> };
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }>;
}

const compose = parse(readFileSync(join(REPO_ROOT, "compose.yaml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const INFRA = ["nats-auth", "nats", "postgres"];
// A service is a package with an entry point (services/contracts is the catalog, not a service).
const serviceDirs = readdirSync(join(REPO_ROOT, "services"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(REPO_ROOT, "services", d.name, "src", "main.ts")))
  .map((d) => d.name)
  .sort();
const initSql = readFileSync(join(REPO_ROOT, "infra", "postgres", "init.sql"), "utf8");
const initSh = readFileSync(join(REPO_ROOT, "infra", "postgres", "init.sh"), "utf8");
const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
const pgHba = readFileSync(join(REPO_ROOT, "infra", "postgres", "pg_hba.conf"), "utf8");
const natsConf = readFileSync(join(REPO_ROOT, "infra", "nats", "orderflow.conf"), "utf8");

const sourceFile = (name: string) => join(REPO_ROOT, "services", name, "src", "service.ts");

// DESIGN.md's table, for one of its services whose definition is not written yet.
const DESIGN_DEFAULTS: Record<string, { defaultPort: string; database: string }> = {
  order: { defaultPort: "3000", database: "orders" },
  inventory: { defaultPort: "3001", database: "inventory" },
  billing: { defaultPort: "3002", database: "billing" },
  saga: { defaultPort: "3003", database: "saga" },
};

/** The service's definition source, where its defaultPort, database and own env vars are declared. */
function serviceSource(name: string): string | undefined {
  const file = sourceFile(name);
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

function declared(name: string, what: "defaultPort" | "database"): string {
  const source = serviceSource(name);
  if (source === undefined) {
    const fallback = DESIGN_DEFAULTS[name]?.[what];
    if (fallback) return fallback;
    throw new Error(`services/${name}/src/service.ts is missing: the service's definition is expected there`);
  }
  const re = what === "defaultPort" ? /defaultPort:\s*(\d+)/ : /database:\s*"(\w+)"/;
  const m = re.exec(source);
  if (!m?.[1]) throw new Error(`services/${name}/src/service.ts declares no ${what} (looked for ${re})`);
  return m[1];
}

const healthTest = (s: ComposeService) =>
  Array.isArray(s.healthcheck?.test) ? s.healthcheck.test.join(" ") : (s.healthcheck?.test ?? "");

describe("compose.yaml", () => {
  it("has one compose service per service under services/, and no other besides nats-auth, nats and postgres", () => {
    expect(serviceDirs.length).toBeGreaterThan(0);
    const composed = Object.keys(compose.services)
      .filter((n) => !INFRA.includes(n))
      .sort();
    expect(composed).toEqual(serviceDirs);
  });

  it("runs nats with JetStream on a volume and postgres with the init script, both with health checks", () => {
    const { nats, postgres } = compose.services;
    expect(nats?.image).toMatch(/^nats:2\.10/);
    expect(healthTest(nats!)).toContain("http://localhost:8222/healthz");
    expect(postgres?.image).toBe("postgres:15");
    // Passwords checked on the network: with trust, any service could claim any role.
    expect(postgres?.environment?.POSTGRES_HOST_AUTH_METHOD).toBeUndefined();
    expect(String(postgres?.environment?.POSTGRES_PASSWORD)).toMatch(/^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/);
    expect(healthTest(postgres!)).toContain("pg_isready");
    expect(JSON.stringify(postgres)).toContain(
      "./infra/postgres/init.sh:/docker-entrypoint-initdb.d/init.sh",
    );
    expect(JSON.stringify(postgres)).toContain("./infra/postgres/init.sql:/orderflow/init.sql");
    expect(initSh).toContain("-f /orderflow/init.sql");
  });

  it("runs nats with only the users nats-auth writes (orderflow nats-config --write), after it", () => {
    const { nats, "nats-auth": auth } = compose.services;
    expect(auth?.build).toEqual({ context: ".", target: "tools" });
    expect(dockerfile).toMatch(/^FROM \S+ AS tools$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "infra\/cli\/dist\/bin\.js"\]$/m);
    expect(auth?.command).toEqual([
      "nats-config",
      "--data-dir",
      "/auth",
      "--write",
      "--json",
      "--tls",
      "--tls-host",
      "nats",
      "--tls-host",
      "postgres",
    ]);
    expect(auth?.volumes).toEqual(["nats-auth:/auth"]);
    // orderflow nats-config --write --data-dir /auth writes /auth/nats/auth.conf.
    // Through infra/nats/orderflow.conf, which includes it (relative to its own place) and fsyncs
    // every JetStream write.
    expect(nats?.command?.join(" ")).toContain("-c /etc/nats/orderflow.conf");
    expect(nats?.volumes).toContain("./infra/nats/orderflow.conf:/etc/nats/orderflow.conf:ro");
    expect(natsConf).toContain(`include ../../auth/nats/${NATS_AUTH_CONFIG}`);
    expect(natsConf).toMatch(/^\s*sync_interval: always$/m);
    expect(nats?.volumes).toContain("nats-auth:/auth:ro");
    expect(nats?.depends_on).toEqual({ "nats-auth": { condition: "service_completed_successfully" } });
  });

  it("runs postgres TLS only: ssl=on with the certificates nats-auth makes, hostssl lines with client certificates alone", () => {
    const { postgres } = compose.services;
    const command = postgres?.command?.join(" ") ?? "";
    expect(command).toContain(`/auth/${TLS_DIR}/server.key`);
    expect(command).toContain(`/auth/${TLS_DIR}/ca.crt`);
    expect(command).toContain("exec docker-entrypoint.sh postgres -c ssl=on");
    expect(command).toContain("-c hba_file=/orderflow/pg_hba.conf");
    expect(postgres?.volumes).toContain("./infra/postgres/pg_hba.conf:/orderflow/pg_hba.conf:ro");
    expect(postgres?.volumes).toContain("nats-auth:/auth:ro");
    expect(postgres?.depends_on).toEqual({ "nats-auth": { condition: "service_completed_successfully" } });
    const rules = pgHba
      .split("\n")
      .map((l) => l.replace(/#.*/, "").trim())
      .filter(Boolean);
    // The socket inside the container (first-run init) and TLS with a client certificate on the network.
    expect(rules.filter((r) => !r.startsWith("local"))).toEqual([
      expect.stringMatching(/^hostssl\s+all\s+all\s+0\.0\.0\.0\/0\s+scram-sha-256\s+clientcert=verify-ca$/),
      expect.stringMatching(/^hostssl\s+all\s+all\s+::\/0\s+scram-sha-256\s+clientcert=verify-ca$/),
    ]);
  });

  // A service without its definition yet is checked against DESIGN.md's table, and says so.
  const noted = serviceDirs.map((n) => [
    n,
    existsSync(sourceFile(n)) ? "" : " (no src/service.ts yet: DESIGN.md defaults)",
  ]);
  describe.each(noted)("service %s%s", (name) => {
    const svc = () => {
      const s = compose.services[name];
      if (!s) throw new Error(`compose.yaml has no service ${name}`);
      return s;
    };
    const prefix = name.toUpperCase();

    it("is built from the root Dockerfile with SERVICE set to its directory", () => {
      expect(svc().build).toMatchObject({ context: ".", args: { SERVICE: name } });
      expect(dockerfile).toContain(`COPY services/${name}/package.json services/${name}/`);
    });

    it("publishes the default port of its source, and listens there", () => {
      const port = declared(name, "defaultPort");
      expect(svc().ports).toEqual([`${port}:${port}`]);
      expect(String(svc().environment?.[`${prefix}_PORT`])).toBe(port);
      expect(svc().environment?.HOST).toBe("0.0.0.0");
    });

    it("sets only environment variables the runtime reads", () => {
      const own = [...(serviceSource(name) ?? "").matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*:/g)].map(
        (m) => m[1],
      );
      const read = [...Object.keys(baseConfigShape), `${prefix}_PORT`, `${prefix}_DATABASE_URL`, ...own];
      // <VAR>_FILE: the value read from that file.
      const known = new Set([...read, ...read.map((v) => `${v}_FILE`)]);
      const unknown = Object.keys(svc().environment ?? {}).filter((k) => !known.has(k));
      expect(unknown).toEqual([]);
      expect(svc().environment?.NATS_URL).toBe("nats://nats:4222");
      // Its own role and database only: no server-wide URL with the superuser.
      expect(svc().environment?.DATABASE_URL).toBeUndefined();
      const database = declared(name, "database");
      expect(svc().environment?.[`${prefix}_DATABASE_URL`]).toBe(
        `postgres://${database}_owner:\${${prefix}_DB_PASSWORD:?set ${prefix}_DB_PASSWORD}@postgres:5432/${database}` +
          `?sslmode=verify-full&sslrootcert=/auth/${TLS_DIR}/ca.crt` +
          `&sslcert=/auth/${TLS_DIR}/clients/${name}.crt&sslkey=/auth/${TLS_DIR}/clients/${name}.key`,
      );
    });

    it("connects to NATS as its own user: its seed file from the nats-auth volume", () => {
      // Where writeNatsAuth puts a service's seed under the data dir nats-auth is given.
      expect(svc().environment?.NATS_NKEY_SEED_FILE).toBe(`/auth/nats/${NATS_SECRETS_DIR}/${name}.nk`);
      expect(svc().volumes).toEqual(["nats-auth:/auth:ro"]);
    });

    it("connects to NATS over mutual TLS: the CA and its own certificate from the nats-auth volume", () => {
      // Where ensureTlsCertificates puts them under the data dir nats-auth is given.
      expect(svc().environment?.NATS_TLS_CA).toBe(`/auth/${TLS_DIR}/ca.crt`);
      expect(svc().environment?.NATS_TLS_CERT).toBe(`/auth/${TLS_DIR}/clients/${name}.crt`);
      expect(svc().environment?.NATS_TLS_KEY).toBe(`/auth/${TLS_DIR}/clients/${name}.key`);
    });

    it("is healthy when GET /readyz on its port answers", () => {
      expect(healthTest(svc())).toContain(`http://127.0.0.1:${declared(name, "defaultPort")}/readyz`);
    });

    it("waits for healthy nats and postgres", () => {
      expect(svc().depends_on).toEqual({
        nats: { condition: "service_healthy" },
        postgres: { condition: "service_healthy" },
      });
    });

    it("finds its database and its owner role created by the init script, alone allowed to connect", () => {
      const database = declared(name, "database");
      const role = `${database}_owner`;
      const password = `${name}_password`;
      expect(initSql).toMatch(
        new RegExp(
          `^CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'${password}';`,
          "m",
        ),
      );
      expect(initSql).toMatch(new RegExp(`^CREATE DATABASE ${database} OWNER ${role};`, "m"));
      expect(initSql).toMatch(new RegExp(`^REVOKE ALL ON DATABASE ${database} FROM PUBLIC;`, "m"));
      expect(initSql).toMatch(
        new RegExp(`^GRANT CONNECT, TEMPORARY ON DATABASE ${database} TO ${role};`, "m"),
      );
      // init.sh passes the password compose gives the postgres container.
      expect(initSh).toContain(`-v ${password}="$${prefix}_DB_PASSWORD"`);
      expect(compose.services.postgres?.environment?.[`${prefix}_DB_PASSWORD`]).toBe(
        `\${${prefix}_DB_PASSWORD:?set ${prefix}_DB_PASSWORD}`,
      );
    });
  });
});

describe("Dockerfile", () => {
  it("builds one service given by ARG SERVICE on node:20-slim and runs its dist/main.js", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-slim$/m);
    expect(dockerfile).toMatch(/^ARG SERVICE$/m);
    expect(dockerfile).toMatch(/^RUN npm (?:ci|install) /m);
    expect(dockerfile).toContain("npx turbo run build --filter=@orderflow/${SERVICE}...");
    expect(dockerfile).toMatch(/^CMD exec node services\/\$\{SERVICE\}\/dist\/main\.js$/m);
  });

  it("installs from every workspace's manifest and ships the toolkit packages a service imports", () => {
    const { workspaces } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
      workspaces: string[];
    };
    const dirs = workspaces.flatMap((w) =>
      w.endsWith("/*")
        ? readdirSync(join(REPO_ROOT, w.slice(0, -2)), { withFileTypes: true })
            .filter(
              (d) => d.isDirectory() && existsSync(join(REPO_ROOT, w.slice(0, -2), d.name, "package.json")),
            )
            .map((d) => `${w.slice(0, -2)}/${d.name}`)
        : [w],
    );
    for (const dir of dirs) expect(dockerfile).toContain(`COPY ${dir}/package.json ${dir}/`);
    for (const dir of ["events", "outbox", "host", "services/contracts"])
      expect(dockerfile).toContain(`COPY --from=build /app/${dir} ./${dir}`);
  });
});

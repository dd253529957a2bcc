import { databaseUrl, ensureDatabase } from "@orderflow/testing";
import { CliError, oneLine, redact } from "../errors.js";
import { readCredentials, writeCredentials } from "./credentials-file.js";
import {
  adminRights,
  connectAdmin,
  ensureOperatorRole,
  ensureServiceDatabase,
  newPassword,
  OPERATOR_KEY,
  operatorRoleName,
  ownerRoleName,
  roleUrl,
  serverOf,
} from "./postgres-roles.js";
import type { ServicePlan } from "./up-config.js";

/** Where a service's database is, and who may create it: its own URL's user, or the server's. */
function targetOf(plan: ServicePlan, serverUrl: string): { admin: string; database: string } {
  return plan.databaseUrl
    ? {
        admin: databaseUrl(plan.databaseUrl, "postgres"),
        database: decodeURIComponent(new URL(plan.databaseUrl).pathname.slice(1)),
      }
    : { admin: serverUrl, database: plan.service.definition.database };
}

/** Creates each service's database where missing, as the given URL's user (no roles). */
export async function ensureDatabases(plans: readonly ServicePlan[], serverUrl: string): Promise<void> {
  await Promise.all(
    plans.map(async (plan) => {
      const { admin, database } = targetOf(plan, serverUrl);
      try {
        await ensureDatabase(admin, database);
      } catch (err) {
        throw new CliError(
          "FAILED",
          `cannot create database ${database} for ${plan.service.name}: ${oneLine(err)}`,
          { cause: err },
        );
      }
    }),
  );
}

/**
 * The services' databases, each owned by a login role of its own (see postgres-roles.ts), and the
 * system's operator role: created or brought back to what they must be, as the server's admin (the
 * user of DATABASE_URL, or of a service's own `<NAME>_DATABASE_URL`). Passwords are generated once and
 * kept in credentials.json (`postgres: {"<service>": url, "@operator": url}`); an entry that no longer
 * names the same role, server and database gets a new one.
 *
 * Returns the URL each service connects with, by name. A service whose admin may not create roles
 * (neither superuser nor CREATEROLE + CREATEDB) gets its database created as before and no entry: it
 * connects with the URL it was given; `warn` says so once.
 */
export async function provisionDatabases(
  plans: readonly ServicePlan[],
  serverUrl: string,
  dataDir: string,
  warn: (line: string) => void,
): Promise<Map<string, string>> {
  const kept = (readCredentials(dataDir).postgres ?? {}) as Record<string, unknown>;
  const keptUrl = (key: string, role: string, server: string, database: string) => {
    const url = kept[key];
    if (typeof url !== "string") return undefined;
    try {
      const u = new URL(url);
      const same =
        decodeURIComponent(u.username) === role &&
        serverOf(url) === server &&
        decodeURIComponent(u.pathname.slice(1)) === database &&
        u.password !== "";
      return same ? decodeURIComponent(u.password) : undefined;
    } catch {
      return undefined;
    }
  };

  const urls = new Map<string, string>();
  const withoutRoles: ServicePlan[] = [];
  const refused = new Set<string>();
  // Per server: the roles created on it, for its operator.
  const servers = new Map<string, { admin: string; roles: string[]; databases: string[] }>();
  for (const plan of plans) {
    const { admin, database } = targetOf(plan, serverUrl);
    const name = plan.service.name;
    try {
      const client = await connectAdmin(admin);
      try {
        if (!(await adminRights(client)).canManageRoles) {
          withoutRoles.push(plan);
          refused.add(redact(admin));
          continue;
        }
        const role = ownerRoleName(database);
        const server = serverOf(admin);
        const password = keptUrl(name, role, server, database) ?? newPassword();
        await ensureServiceDatabase(client, admin, { database, role, password });
        urls.set(name, roleUrl(admin, role, password, database));
        const s = servers.get(server) ?? { admin, roles: [], databases: [] };
        s.roles.push(role);
        s.databases.push(database);
        servers.set(server, s);
      } finally {
        await client.end().catch(() => {});
      }
    } catch (err) {
      throw new CliError(
        "FAILED",
        `cannot set up database ${database} and its role for ${name}: ${oneLine(err)}`,
        { cause: err },
      );
    }
  }
  if (refused.size)
    warn(
      `orderflow: warning: ${[...refused].join(", ")} may not create roles (neither superuser nor CREATEROLE and CREATEDB): ${withoutRoles.map((p) => p.service.name).join(", ")} connect as that user, with access to every database it has`,
    );
  await ensureDatabases(withoutRoles, serverUrl);

  // One operator, on the server of the first service with a role (in practice the only one).
  const postgres: Record<string, string> = Object.fromEntries(urls);
  const [first] = servers.entries();
  if (first) {
    const [server, { admin, roles, databases }] = first;
    const role = operatorRoleName(databases);
    const stored = kept[OPERATOR_KEY];
    const previous = typeof stored === "string" ? stored : undefined;
    let previousRole: string | undefined;
    try {
      if (previous && serverOf(previous) === server)
        previousRole = decodeURIComponent(new URL(previous).username);
    } catch {
      // Not a URL: nothing to drop.
    }
    const password = keptUrl(OPERATOR_KEY, role, server, "postgres") ?? newPassword();
    const client = await connectAdmin(admin);
    try {
      await ensureOperatorRole(client, { role, password, members: roles, previous: previousRole });
    } catch (err) {
      throw new CliError("FAILED", `cannot set up the operator role ${role}: ${oneLine(err)}`, {
        cause: err,
      });
    } finally {
      await client.end().catch(() => {});
    }
    postgres[OPERATOR_KEY] = roleUrl(admin, role, password, "postgres");
  }
  writeCredentials(dataDir, { postgres });
  return urls;
}

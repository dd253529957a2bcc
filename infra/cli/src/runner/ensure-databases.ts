import { databaseUrl, ensureDatabase } from "@orderflow/testing";
import { CliError, oneLine } from "../errors.js";
import type { ServicePlan } from "./up-config.js";

/** Creates each service's database where missing: its own URL's, or its definition's on the server. */
export async function ensureDatabases(plans: readonly ServicePlan[], serverUrl: string): Promise<void> {
  await Promise.all(
    plans.map(async (plan) => {
      const [server, name] = plan.databaseUrl
        ? [databaseUrl(plan.databaseUrl, "postgres"), new URL(plan.databaseUrl).pathname.slice(1)]
        : [serverUrl, plan.service.definition.database];
      try {
        await ensureDatabase(server, name);
      } catch (err) {
        throw new CliError(
          "FAILED",
          `cannot create database ${name} for ${plan.service.name}: ${oneLine(err)}`,
          {
            cause: err,
          },
        );
      }
    }),
  );
}

import type { BillingEvents } from "@orderflow/contracts";
import { SafeString } from "@orderflow/events";
import { NotFoundBody, type ServiceDeps, type ZodTypeProvider } from "@orderflow/host";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { decide, isPublished } from "./billing-decider.js";
import { loadBilling, persist, readAccount, type AccountView } from "./billing-store.js";
import type { BillingDb } from "./migrations.js";

/** Customer ids as orders carry them (`POST /orders` caps them at 64 characters). */
const CustomerId = SafeString.min(1)
  .max(64)
  .meta({ examples: ["customer-1"] });
const AccountParams = z.object({ customerId: CustomerId });
const SetBalanceBody = z.object({
  balanceCents: z
    .number()
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER)
    .meta({ examples: [100_000] }),
});
const Account = z.object({ customerId: z.string(), balanceCents: z.number().int() });

/**
 * `GET /accounts/:customerId` and `PUT /accounts/:customerId` (operator only). A PUT opens the account or sets its
 * balance and publishes `account.balance.set`, unless the balance is already that.
 */
export function accountRoutes(
  app: FastifyInstance,
  { db, outbox }: Pick<ServiceDeps<BillingDb, {}, BillingEvents>, "db" | "outbox">,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const getSchema = { params: AccountParams, response: { 200: Account, 404: NotFoundBody } };
  api.get("/accounts/:customerId", { schema: getSchema }, async (req, reply) => {
    const { customerId } = req.params;
    return (
      (await readAccount(db, customerId)) ?? reply.code(404).send({ error: `unknown customer ${customerId}` })
    );
  });

  const putSchema = { params: AccountParams, body: SetBalanceBody, response: { 200: Account } };
  api.put(
    "/accounts/:customerId",
    { config: { operator: true }, schema: putSchema },
    async (req): Promise<AccountView> => {
      const { customerId } = req.params;
      const { balanceCents } = req.body;
      return db.transaction().execute(async (trx) => {
        const before = await loadBilling(trx, { customerId });
        const events = decide({ name: "set-balance", data: { customerId, balanceCents } }, before);
        await persist(trx, before, events);
        for (const e of events) {
          if (isPublished(e)) await outbox.enqueue(trx, e.name, e.data, { correlationId: customerId });
        }
        return { customerId, balanceCents };
      });
    },
  );
}

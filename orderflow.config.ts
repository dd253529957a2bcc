// The order system, as the `orderflow` CLI (infra/cli) sees it: `orderflow up` runs these services,
// the recovery commands (replay, rebuild, republish, outbox) know them by their definitions' names.
// Each service's name, database and default port are in its definition (services/<x>/src/service.ts).
import { defineSystem } from "@orderflow/cli";

export default defineSystem({
  // Paths relative to this file: the built definition module (exports `definition`) and entry point.
  services: [
    { definition: "./services/order/dist/service.js", main: "./services/order/dist/main.js" },
    { definition: "./services/inventory/dist/service.js", main: "./services/inventory/dist/main.js" },
    { definition: "./services/billing/dist/service.js", main: "./services/billing/dist/main.js" },
    { definition: "./services/saga/dist/service.js", main: "./services/saga/dist/main.js" },
  ],
  // Created by `orderflow up` where missing (`--no-seed` skips it); `npm run demo` relies on it.
  // PUT as the operator, with the token `orderflow up` keeps in .data/credentials.json.
  seed: {
    // Prices in cents: alice's 2 apples (3.00) are confirmed, bob's 5 sku-rare (45.00, within his 50.00)
    // fail on stock alone, carol-low's pear (2.50) is more than her 1.00.
    order: {
      "/prices/sku-apple": { unitPriceCents: 150 },
      "/prices/sku-pear": { unitPriceCents: 250 },
      "/prices/sku-rare": { unitPriceCents: 900 },
    },
    inventory: {
      "/stock/sku-apple": { available: 100 },
      "/stock/sku-pear": { available: 50 },
      "/stock/sku-rare": { available: 1 },
    },
    billing: {
      "/accounts/alice": { balanceCents: 100_000 },
      "/accounts/bob": { balanceCents: 5000 },
      "/accounts/carol-low": { balanceCents: 100 },
    },
  },
});

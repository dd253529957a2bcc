import { request } from "../http.js";

/** The demo data `orderflow up` creates and `orderflow demo` relies on. */
export const DEMO_STOCK: Readonly<Record<string, number>> = {
  "sku-apple": 100,
  "sku-pear": 50,
  "sku-rare": 1,
};
export const DEMO_ACCOUNTS: Readonly<Record<string, number>> = {
  alice: 100_000,
  bob: 5000,
  "carol-low": 100,
};

export interface SeedResult {
  readonly created: readonly string[];
  readonly kept: readonly string[];
}

/**
 * Creates the demo stock and accounts that do not exist yet (GET → 404 → PUT), so a restart keeps
 * whatever the previous run changed. A service that is not running here is skipped.
 */
export async function seedDemoData(urls: { inventory?: string; billing?: string }): Promise<SeedResult> {
  const created: string[] = [];
  const kept: string[] = [];
  const ensure = async (label: string, url: string, body: unknown) => {
    const got = await request("GET", url);
    if (got.status === 200) return void kept.push(label);
    if (got.status !== 404) throw new Error(`GET ${url} answered ${got.status}`);
    const put = await request("PUT", url, body);
    if (put.status < 200 || put.status > 299)
      throw new Error(`PUT ${url} answered ${put.status}: ${JSON.stringify(put.body)}`);
    created.push(label);
  };
  const tasks: Promise<void>[] = [];
  if (urls.inventory) {
    for (const [sku, available] of Object.entries(DEMO_STOCK)) {
      tasks.push(ensure(`stock ${sku}`, `${urls.inventory}/stock/${encodeURIComponent(sku)}`, { available }));
    }
  }
  if (urls.billing) {
    for (const [id, balanceCents] of Object.entries(DEMO_ACCOUNTS)) {
      tasks.push(
        ensure(`account ${id}`, `${urls.billing}/accounts/${encodeURIComponent(id)}`, { balanceCents }),
      );
    }
  }
  await Promise.all(tasks);
  return { created: created.sort(), kept: kept.sort() };
}

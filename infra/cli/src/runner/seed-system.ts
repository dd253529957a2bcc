import { request } from "../http.js";
import type { SeedData } from "../system/define-system.js";

export interface SeedResult {
  readonly created: readonly string[];
  readonly kept: readonly string[];
}

/**
 * Creates the config's seed resources that do not exist yet (GET → 404 → PUT as the operator), so a restart keeps
 * whatever the previous run changed. Each is named by its path (`/stock/sku-1` → `stock sku-1`).
 */
export async function seedSystem(
  seed: SeedData,
  urlOf: (service: string) => string,
  operatorToken: string,
): Promise<SeedResult> {
  const headers = { authorization: `Bearer ${operatorToken}` };
  const created: string[] = [];
  const kept: string[] = [];
  const ensure = async (path: string, body: unknown, base: string) => {
    const url = `${base}${path}`;
    const label = path.split("/").filter(Boolean).map(decodeURIComponent).join(" ");
    const got = await request("GET", url);
    if (got.status === 200) return void kept.push(label);
    if (got.status !== 404) throw new Error(`GET ${url} answered ${got.status}`);
    const put = await request("PUT", url, body, { headers });
    if (put.status < 200 || put.status > 299)
      throw new Error(`PUT ${url} answered ${put.status}: ${JSON.stringify(put.body)}`);
    created.push(label);
  };
  await Promise.all(
    Object.entries(seed).flatMap(([service, resources]) =>
      Object.entries(resources).map(([path, body]) => ensure(path, body, urlOf(service))),
    ),
  );
  return { created: created.sort(), kept: kept.sort() };
}

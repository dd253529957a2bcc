/** Amounts are integer minor units. */
export const money = (cents: number, currency: string): string =>
  `${(cents / 100).toFixed(2)}${currency ? ` ${currency}` : ""}`;

/** The end of an id: a UUIDv7 starts with its time, the same for orders placed together. */
export const shortId = (id: string): string => (id.length > 13 ? `…${id.slice(-12)}` : id);

export const clock = (iso: string): string => new Date(iso).toLocaleTimeString([], { hour12: false });

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** What a response said went wrong: its `error`, else its status. */
export async function failure(res: Response): Promise<string> {
  const body = (await res.json().catch(() => undefined)) as { error?: string } | undefined;
  return body?.error ?? `HTTP ${res.status}`;
}

import type pg from "pg";

/**
 * Whether `p` settles (resolves or rejects) within `ms`; it is left to settle later otherwise. For
 * stops that must not wait on a database that does not answer.
 */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(done, done);
  });
}

/**
 * Closes a pg client's socket at once: its query in flight, if any, fails, and nothing waits on the
 * server. What `end()` does on a server that does not answer (it waits for the server to close).
 */
export function destroyConnection(c: pg.ClientBase): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** `c.end()`, but at most `ms`: then its socket is destroyed. */
export async function endWithin(c: pg.ClientBase & { end(): Promise<void> }, ms: number): Promise<void> {
  if (!(await settlesWithin(c.end(), ms))) destroyConnection(c);
}

import pg from "pg";

/** How long the relay's sessions wait for the server when connecting. */
export const SESSION_CONNECT_TIMEOUT_MS = 5000;

/**
 * The relay's sessions on its database, so that a stop that cannot wait for a server that does not
 * answer can close them all at once. Each client is in the set from its creation to its end.
 */
export type OpenSessions = Set<pg.Client>;

/** A new client on the service database, in `open` until it ends. */
export function newSession(
  connectionString: string,
  applicationName: string,
  open?: OpenSessions,
): pg.Client {
  const c = new pg.Client({
    connectionString,
    application_name: applicationName,
    connectionTimeoutMillis: SESSION_CONNECT_TIMEOUT_MS,
  });
  open?.add(c);
  c.once("end", () => open?.delete(c));
  return c;
}

/** A session of its own on the service database, for the relay's marks and its retention cleanup. */
export async function openSession(
  connectionString: string,
  applicationName: string,
  open?: OpenSessions,
): Promise<pg.Client> {
  const c = newSession(connectionString, applicationName, open);
  c.on("error", () => {}); // until the caller listens: a failed connect rejects anyway
  try {
    await c.connect();
  } catch (err) {
    open?.delete(c);
    c.end().catch(() => {});
    throw err;
  }
  return c;
}

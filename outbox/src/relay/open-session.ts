import pg from "pg";

/** A session of its own on the service database, for the relay's marks and its retention cleanup. */
export async function openSession(connectionString: string, applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString, application_name: applicationName });
  c.on("error", () => {}); // until the caller listens: a failed connect rejects anyway
  try {
    await c.connect();
  } catch (err) {
    c.end().catch(() => {});
    throw err;
  }
  return c;
}

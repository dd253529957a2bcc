import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import { operatorOnly } from "@orderflow/host";
import { isOutboxError } from "@orderflow/outbox";
import Fastify, { type FastifyInstance } from "fastify";
import type { ErrorAnswer, OpsOverview, RedriveAnswer } from "./ops-api.js";

/** The CLI package: `web/` holds the page, `dist/ui/web` its scripts (compiled from src/ui/web). */
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PREACT_DIR = dirname(createRequire(import.meta.url).resolve("preact/package.json"));

/** Loopback only: the page is for the operator on this machine (or through an SSH tunnel). */
export const OPS_UI_HOST = "127.0.0.1";

export interface OpsServerOptions {
  /** 0: any free port. */
  readonly port: number;
  /** Who may redrive: `Authorization: Bearer <token>`; undefined: nobody may (403). */
  readonly operatorToken: string | undefined;
  readonly overview: () => Promise<OpsOverview>;
  /** Sends dead letter `id` back to its subject; an unknown id throws an OutboxError NOT_FOUND. */
  readonly redrive: (id: number) => Promise<RedriveAnswer>;
}

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

const fail = (error: string, path?: string): ErrorAnswer => ({
  error,
  issues: path ? [{ path, message: error }] : [],
});

/**
 * The ops page's HTTP server, on loopback: the page and its scripts, `GET /api/overview` (read at
 * most twice a second however many pages poll it), and the operator's routes — `GET /api/operator`
 * (is this token the operator's?) and `POST /api/dead-letters/:id/redrive` — behind the operator
 * token, which a browser sends only from the page itself (no CORS), so another site cannot.
 * Requests naming another host than loopback are refused (DNS rebinding).
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const app = Fastify({ logger: false });
  const overview = coalesced(opts.overview, 500);
  const operator = { onRequest: operatorOnly(opts.operatorToken) };

  app.addHook("onRequest", async (req, reply) => {
    if (!loopbackHost(req.headers.host))
      return reply.code(403).send(fail("the ops page answers on loopback only"));
    reply.header("content-security-policy", "frame-ancestors 'none'");
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
  });
  await app.register(fastifyStatic, { root: join(PACKAGE_DIR, "web") });
  await registerStatic(app, "/app/", join(PACKAGE_DIR, "dist", "ui", "web"));
  await registerStatic(app, "/vendor/preact/", PREACT_DIR);

  app.get("/api/overview", async (_req, reply) =>
    reply.header("cache-control", "no-store").send(await overview()),
  );
  app.get("/api/operator", operator, async (_req, reply) => reply.code(204).send());
  app.post<{ Params: { id: string } }>("/api/dead-letters/:id/redrive", operator, async (req, reply) => {
    if (!/^[1-9]\d{0,15}$/.test(req.params.id))
      return reply.code(400).send(fail("must be a dead letter's id (a positive integer)", "id"));
    try {
      return await opts.redrive(Number(req.params.id));
    } catch (err) {
      if (isOutboxError(err) && err.code === "NOT_FOUND")
        return reply.code(404).send(fail(err.message, "id"));
      throw err;
    }
  });

  await app.listen({ host: OPS_UI_HOST, port: opts.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return { url: `http://${OPS_UI_HOST}:${port}`, close: () => app.close() };
}

async function registerStatic(app: FastifyInstance, prefix: string, root: string): Promise<void> {
  await app.register(fastifyStatic, { root, prefix, decorateReply: false, index: false });
}

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;
const loopbackHost = (host: string | undefined): boolean => host !== undefined && LOOPBACK.test(host);

/** `read`, at most once per `intervalMs`: callers meanwhile share the answer in flight or the last one. */
function coalesced<T>(read: () => Promise<T>, intervalMs: number): () => Promise<T> {
  let last: { done: boolean; at: number; value: Promise<T> } | undefined;
  return () => {
    if (last && (!last.done || Date.now() - last.at < intervalMs)) return last.value;
    const entry = { done: false, at: 0, value: read() };
    last = entry;
    entry.value.then(
      () => Object.assign(entry, { done: true, at: Date.now() }),
      // A failed read is not kept.
      () => {
        if (last === entry) last = undefined;
      },
    );
    return entry.value;
  };
}

import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * Operator-only: the route answers only requests with `Authorization: Bearer <OPERATOR_TOKEN>`
     * (see operatorOnly). Set it in the route's options: `app.put(path, { config: { operator: true } }, …)`.
     */
    operator?: boolean;
  }
}

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;
const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * An `onRequest` hook that lets through only requests carrying `Authorization: Bearer <token>`:
 * no or an ill-formed header → 401 with `WWW-Authenticate: Bearer`, another token → 403, and with
 * no token configured every request → 403 (operator routes are closed until one is set). Runs
 * before the body is parsed; tokens are compared in constant time (SHA-256 digests, so their
 * lengths do not leak either).
 * @example
 * app.put("/stock/:sku", { onRequest: operatorOnly(config.operatorToken) }, handler);
 */
export function operatorOnly(token: string | undefined): onRequestAsyncHookHandler {
  return bearerOnly(token, "operator", "OPERATOR_TOKEN");
}

/** The guard of operatorOnly for a token of another kind (`metrics`), named after its variable. */
export function bearerOnly(
  token: string | undefined,
  kind: string,
  variable: string,
): onRequestAsyncHookHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async function bearerGuard(req: FastifyRequest, reply: FastifyReply) {
    if (!expected)
      return reply.code(403).send({
        error: `${kind} endpoints are disabled: set ${variable} (or ${variable}_FILE) on this service`,
        issues: [],
      });
    const given = BEARER.exec(req.headers.authorization ?? "")?.[1];
    if (given === undefined)
      return reply
        .code(401)
        .header("www-authenticate", `Bearer realm="orderflow-${kind}"`)
        .send({ error: `${kind} token required: Authorization: Bearer <token>`, issues: [] });
    if (!timingSafeEqual(digest(given), expected))
      return reply.code(403).send({ error: `${kind} token rejected`, issues: [] });
  };
}

/**
 * Guards every route registered on `app` from now on whose options say `config: { operator: true }`.
 * Returns the guarded routes' `METHOD url`, filled in as routes are added.
 */
export function guardOperatorRoutes(app: FastifyInstance, token: string | undefined): readonly string[] {
  const guard = operatorOnly(token);
  const guarded: string[] = [];
  app.addHook("onRoute", (route) => {
    if (route.config?.operator !== true) return;
    const own = route.onRequest;
    route.onRequest = own === undefined ? [guard] : [guard, ...(Array.isArray(own) ? own : [own])];
    guarded.push(`${String(route.method)} ${route.url}`);
  });
  return guarded;
}

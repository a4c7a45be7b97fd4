import {
  can,
  type Grant,
  hashSecret,
  type Principal,
  parseToken,
  secretMatches,
  type Verb,
} from "@atoll/access";
import { findLiveToken, listRoles } from "@atoll/store";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type postgres from "postgres";
import { HttpProblem } from "./problem.js";

export interface AuthOptions {
  /** A token that acts as the built-in admin role, for bootstrapping; compared by hash. */
  adminToken?: string;
  /** The role of requests without a token; unset means they are refused. */
  anonymousRole?: string;
  /** How long a token lookup is reused; revocation takes effect within it (default 5 s). */
  tokenCacheMs?: number;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
}

const PUBLIC = new Set(["/healthz", "/readyz", "/openapi.json"]);
/** The web console's pages and bundle hold no data: it signs in and reads the API with a token. */
const PUBLIC_PREFIX = "/ui";
/** Revocation takes effect within this long; it spares a database round trip per request. */
const TOKEN_CACHE_MS = 5_000;

const unauthenticated = (detail: string) =>
  new HttpProblem(401, "UNAUTHENTICATED", "Unauthenticated", detail, {});

export function forbidden(detail: string): HttpProblem {
  return new HttpProblem(403, "FORBIDDEN", "Forbidden", detail);
}

/** Refuses the request unless the caller holds the verb on the scope. */
export function demand(
  request: FastifyRequest,
  verb: Verb,
  scope: { cluster?: string; namespace?: string; kind?: string } = {},
): void {
  if (!can(request.principal, verb, scope))
    throw forbidden(
      `${request.principal.name} (role ${request.principal.role}) may not ${verb}${scope.cluster ? ` in cluster ${scope.cluster}` : ""}; ask an admin for a role that grants it`,
    );
}

/**
 * Every request but the probes and the API description carries a bearer token: the bootstrap
 * admin token, or one made by POST /api/v1/tokens. The caller's grants then travel with the
 * request as request.principal.
 */
export type Authenticate = (authorization: string | undefined) => Promise<Principal>;

export function authentication(app: FastifyInstance, sql: postgres.Sql, options: AuthOptions): Authenticate {
  const adminHash = options.adminToken ? hashSecret(options.adminToken) : undefined;
  const cache = new Map<string, { at: number; principal: Promise<Principal | undefined> }>();
  const roleGrants = async (role: string): Promise<Grant[] | undefined> =>
    (await listRoles(sql)).find((r) => r.name === role)?.grants as Grant[] | undefined;

  const lookup = async (token: string): Promise<Principal | undefined> => {
    if (adminHash && secretMatches(token, adminHash)) {
      const grants = await roleGrants("admin");
      // The built-in role always exists; not finding it means the answer was lost, not the role.
      if (!grants)
        throw Object.assign(
          new Error("the admin role could not be read; the database connection is unreliable"),
          {
            code: "CONNECTION_INCONSISTENT",
          },
        );
      return { name: "bootstrap-admin", role: "admin", grants };
    }
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const row = await findLiveToken(sql, parsed.id);
    if (!row || !secretMatches(parsed.secret, row.secretHash)) return undefined;
    return { name: row.name, role: row.role, grants: row.grants as Grant[] };
  };

  /** The caller behind an Authorization header; throws 401 problems. */
  const authenticate: Authenticate = async (header) => {
    if (!header) {
      if (!options.anonymousRole)
        throw unauthenticated(
          "send Authorization: Bearer <token>; create a token with `atoll token create --role viewer`",
        );
      const grants = await roleGrants(options.anonymousRole);
      return { name: "anonymous", role: options.anonymousRole, grants: grants ?? [] };
    }
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw unauthenticated("the Authorization header must be `Bearer <token>`");
    const key = hashSecret(token);
    let entry = cache.get(key);
    if (!entry || Date.now() - entry.at > (options.tokenCacheMs ?? TOKEN_CACHE_MS)) {
      const fresh = { at: Date.now(), principal: lookup(token) };
      entry = fresh;
      cache.set(key, fresh);
      // A lookup that failed (the database, not the token) is forgotten, never cached as invalid;
      // only this lookup's entry goes, not a newer one made meanwhile.
      fresh.principal.catch(() => {
        if (cache.get(key) === fresh) cache.delete(key);
      });
      if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    }
    const principal = await entry.principal;
    // Only a token found is remembered: an unknown one is looked up again next time, so a miss
    // can never keep a valid token out for the cache's lifetime.
    if (!principal && cache.get(key) === entry) cache.delete(key);
    if (!principal)
      throw unauthenticated("the token is not valid: unknown, revoked or expired; create a new one");
    return principal;
  };

  app.decorateRequest("principal", null as unknown as Principal);
  app.addHook("onRequest", async (request) => {
    const path = request.url.split("?")[0]!;
    if (PUBLIC.has(path) || path === PUBLIC_PREFIX || path.startsWith(`${PUBLIC_PREFIX}/`)) return;
    request.principal = await authenticate(request.headers.authorization);
  });
  return authenticate;
}

import { type Grant, GrantError, grantsBeyond, mintToken, parseGrants } from "@atoll/access";
import { z } from "@atoll/config";
import { parseDuration } from "@atoll/search";
import {
  AccessError,
  deleteRole,
  insertToken,
  listRoles,
  listTokens,
  putRole,
  revokeToken,
} from "@atoll/store";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type postgres from "postgres";
import { demand, forbidden } from "./auth.js";
import { badRequest, HttpProblem, parseBody } from "./problem.js";

const tokenRequest = z.object({
  name: z.string().min(1).max(100),
  role: z.string().min(1),
  /** A duration such as 30d or 12h; without it the token lives until revoked. */
  expiresIn: z.string().optional(),
});
const roleRequest = z.object({ grants: z.unknown() });

function asProblem(error: unknown): unknown {
  if (error instanceof GrantError) return badRequest(error.code, error.message);
  if (error instanceof AccessError)
    return error.code === "ROLE_NOT_FOUND" || error.code === "TOKEN_NOT_FOUND"
      ? new HttpProblem(404, error.code, "Not found", error.message)
      : new HttpProblem(409, error.code, "Conflict", error.message);
  return error;
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asProblem(error);
  }
}

/**
 * No one hands out, takes away or acts through more than they hold: a role made, changed or
 * deleted, and a token minted or revoked, must have grants within the caller's own.
 */
function demandCovers(request: FastifyRequest, grants: Grant[], what: string): void {
  const beyond = grantsBeyond(request.principal.grants, grants);
  if (beyond.length)
    throw forbidden(
      `${request.principal.name} (role ${request.principal.role}) may not ${what}: it grants ${beyond.slice(0, 5).join(", ")}` +
        `${beyond.length > 5 ? ` and ${beyond.length - 5} more` : ""}, beyond the caller's own grants; ask an admin who holds them`,
    );
}

/**
 * Roles, tokens and "who am I". Managing roles and tokens takes the admin verb, and only over
 * grants the caller holds.
 */
export function accessRoutes(app: FastifyInstance, sql: postgres.Sql): void {
  const grantsOf = async (role: string): Promise<Grant[] | undefined> =>
    (await listRoles(sql)).find((r) => r.name === role)?.grants as Grant[] | undefined;

  app.get("/api/v1/whoami", async (request) => request.principal);

  app.get("/api/v1/roles", async (request) => {
    demand(request, "admin");
    return { items: await listRoles(sql) };
  });

  app.put("/api/v1/roles/:name", async (request) => {
    demand(request, "admin");
    const { name } = request.params as { name: string };
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name))
      throw badRequest(
        "INVALID_NAME",
        `role name "${name}" must be lowercase letters, digits, ".", "_" or "-"`,
      );
    const { grants } = parseBody(roleRequest, request.body);
    return guarded(async () => {
      const parsed = parseGrants(grants);
      demandCovers(request, parsed, `grant role ${name} these grants`);
      demandCovers(request, (await grantsOf(name)) ?? [], `change role ${name}`);
      await putRole(sql, name, parsed);
      return { name, grants: parsed };
    });
  });

  app.delete("/api/v1/roles/:name", async (request) => {
    demand(request, "admin");
    const { name } = request.params as { name: string };
    return guarded(async () => {
      demandCovers(request, (await grantsOf(name)) ?? [], `delete role ${name}`);
      await deleteRole(sql, name);
      return { deleted: name };
    });
  });

  app.post("/api/v1/tokens", async (request, reply) => {
    demand(request, "admin");
    const body = parseBody(tokenRequest, request.body);
    const roleGrants = await grantsOf(body.role);
    if (roleGrants) demandCovers(request, roleGrants, `mint a token of role ${body.role}`);
    const expiresAt = body.expiresIn
      ? new Date(Date.now() + parseDuration(body.expiresIn) * 1000).toISOString()
      : undefined;
    const minted = mintToken();
    await guarded(() =>
      insertToken(sql, {
        id: minted.id,
        name: body.name,
        role: body.role,
        secretHash: minted.secretHash,
        ...(expiresAt ? { expiresAt } : {}),
      }),
    );
    // The only time the secret is shown; the hub keeps just its hash.
    return reply.status(201).send({
      id: minted.id,
      name: body.name,
      role: body.role,
      token: minted.token,
      expiresAt: expiresAt ?? null,
    });
  });

  app.get("/api/v1/tokens", async (request) => {
    demand(request, "admin");
    return { items: await listTokens(sql) };
  });

  app.delete("/api/v1/tokens/:id", async (request) => {
    demand(request, "admin");
    const { id } = request.params as { id: string };
    return guarded(async () => {
      const token = (await listTokens(sql)).find((t) => t.id === id);
      if (token)
        demandCovers(request, (await grantsOf(token.role)) ?? [], `revoke token ${id} of role ${token.role}`);
      await revokeToken(sql, id);
      return { revoked: id };
    });
  });
}

import type postgres from "postgres";
import { isoTime } from "./db.js";
import type { GrantRecord } from "./schema/access.js";

export class AccessError extends Error {
  constructor(
    readonly code: "ROLE_NOT_FOUND" | "ROLE_BUILTIN" | "ROLE_IN_USE" | "TOKEN_NOT_FOUND",
    message: string,
  ) {
    super(message);
  }
}

export interface RoleRecord {
  name: string;
  grants: GrantRecord[];
  builtin: boolean;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** Creates or replaces a role; the built-in ones are fixed. */
export async function putRole(sql: postgres.Sql, name: string, grants: GrantRecord[]): Promise<void> {
  const [row] = await sql`
    insert into roles (name, grants) values (${name}, ${JSON.stringify(grants)}::jsonb)
    on conflict (name) do update set grants = excluded.grants where not roles.builtin
    returning name`;
  if (!row) throw new AccessError("ROLE_BUILTIN", `role "${name}" is built in and cannot be changed`);
}

export async function listRoles(sql: postgres.Sql): Promise<RoleRecord[]> {
  return (await sql`select name, grants, builtin from roles order by name`) as unknown as RoleRecord[];
}

export async function deleteRole(sql: postgres.Sql, name: string): Promise<void> {
  const [role] = await sql`select builtin from roles where name = ${name}`;
  if (!role) throw new AccessError("ROLE_NOT_FOUND", `no role "${name}"; list them with GET /api/v1/roles`);
  if (role.builtin) throw new AccessError("ROLE_BUILTIN", `role "${name}" is built in and cannot be deleted`);
  const [used] =
    await sql`select count(*)::int as n from api_tokens where role = ${name} and revoked_at is null`;
  if (used && used.n > 0)
    throw new AccessError(
      "ROLE_IN_USE",
      `role "${name}" is held by ${used.n} live token(s); revoke them first`,
    );
  await sql`delete from api_tokens where role = ${name}`;
  await sql`delete from roles where name = ${name}`;
}

export async function insertToken(
  sql: postgres.Sql,
  token: { id: string; name: string; role: string; secretHash: string; expiresAt?: string },
): Promise<void> {
  const [role] = await sql`select 1 from roles where name = ${token.role}`;
  if (!role)
    throw new AccessError(
      "ROLE_NOT_FOUND",
      `no role "${token.role}"; create it first or use admin or viewer`,
    );
  await sql`
    insert into api_tokens (id, name, role, secret_hash, expires_at)
    values (${token.id}, ${token.name}, ${token.role}, ${token.secretHash}, ${token.expiresAt ?? null})`;
}

/** The live token with this id (not revoked, not expired), with its role's grants. */
export async function findLiveToken(
  sql: postgres.Sql,
  id: string,
): Promise<{ name: string; role: string; secretHash: string; grants: GrantRecord[] } | undefined> {
  // Exactly one row always comes back, holding the token or null: an answer without that row
  // (seen while backends are being terminated) is a broken connection, not an unknown token, and
  // must not lock a valid token out.
  const rows = await sql`
    select (select json_build_object('name', t.name, 'role', t.role, 'secretHash', t.secret_hash, 'grants', r.grants)
      from api_tokens t join roles r on r.name = t.role
      where t.id = ${id} and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())) as token`;
  if (rows.length !== 1 || !("token" in rows[0]!))
    throw Object.assign(
      new Error("the token lookup came back without its answer; the database connection is unreliable"),
      {
        code: "CONNECTION_INCONSISTENT",
      },
    );
  const token = rows[0]!.token as {
    name: string;
    role: string;
    secretHash: string;
    grants: GrantRecord[];
  } | null;
  return token ?? undefined;
}

export async function listTokens(sql: postgres.Sql): Promise<TokenRecord[]> {
  return (await sql`
    select id, name, role, ${isoTime(sql, "created_at")} as "createdAt", ${isoTime(sql, "expires_at")} as "expiresAt",
      ${isoTime(sql, "revoked_at")} as "revokedAt"
    from api_tokens order by created_at`) as unknown as TokenRecord[];
}

export async function revokeToken(sql: postgres.Sql, id: string): Promise<void> {
  const [row] =
    await sql`update api_tokens set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning id`;
  if (!row) throw new AccessError("TOKEN_NOT_FOUND", `no token "${id}"; list them with GET /api/v1/tokens`);
}

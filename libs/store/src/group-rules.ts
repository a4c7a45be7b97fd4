import type postgres from "postgres";
import { ISO_TIME_FORMAT } from "./db.js";

export interface GroupRule {
  name: string;
  description: string;
  keys: string[];
  createdBy: string;
  updatedAt: string;
}

const COLUMNS = (sql: postgres.Sql) =>
  sql`name, description, keys, created_by as "createdBy", to_char(updated_at at time zone 'UTC', ${ISO_TIME_FORMAT}) as "updatedAt"`;

export async function listGroupRules(sql: postgres.Sql): Promise<GroupRule[]> {
  return (await sql`select ${COLUMNS(sql)} from group_rules order by name`) as unknown as GroupRule[];
}

export async function getGroupRule(sql: postgres.Sql, name: string): Promise<GroupRule | undefined> {
  const [rule] = await sql`select ${COLUMNS(sql)} from group_rules where name = ${name}`;
  return rule as GroupRule | undefined;
}

/** Creates or replaces a rule; says which it did. */
export async function putGroupRule(
  sql: postgres.Sql,
  rule: Pick<GroupRule, "name" | "description" | "keys" | "createdBy">,
): Promise<{ created: boolean }> {
  const [row] = await sql`
    insert into group_rules (name, description, keys, created_by)
    values (${rule.name}, ${rule.description}, ${rule.keys}, ${rule.createdBy})
    on conflict (name) do update set description = excluded.description, keys = excluded.keys, updated_at = now()
    returning (xmax = 0) as created`;
  return { created: Boolean(row?.created) };
}

export async function deleteGroupRule(sql: postgres.Sql, name: string): Promise<boolean> {
  return (await sql`delete from group_rules where name = ${name}`).count > 0;
}

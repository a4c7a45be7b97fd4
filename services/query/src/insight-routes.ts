import { visibleRows } from "@atoll/access";
import { conditionSql } from "@atoll/search";
import type { Database } from "@atoll/store";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { badRequest } from "./problem.js";

const SEVERITIES = ["info", "low", "medium", "high", "critical"];

/** Orders issues worst first. */
const WEIGHT = sql`case severity when 'low' then 1 when 'medium' then 2 when 'high' then 3 when 'critical' then 5 else 0 end`;

/**
 * GET /api/v1/issues: what the rules found, open by default, filtered by the caller's grants in the
 * query. GET /api/v1/health: scores per cluster or namespace.
 */
export function insightRoutes(app: FastifyInstance, db: Database): void {
  app.get("/api/v1/issues", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    if (q.severity && !SEVERITIES.includes(q.severity))
      throw badRequest(
        "INVALID_SEVERITY",
        `severity must be one of ${SEVERITIES.join(", ")}, got "${q.severity}"`,
      );
    const limit = Math.min(Math.max(Number(q.limit ?? 500) || 500, 1), 5000);
    const grants = visibleRows(request.principal);
    const filters = [
      grants ? conditionSql(grants) : sql`true`,
      q.cluster ? sql`cluster = ${q.cluster}` : sql`true`,
      q.namespace !== undefined ? sql`namespace = ${q.namespace}` : sql`true`,
      q.kind ? sql`kind = ${q.kind}` : sql`true`,
      q.rule ? sql`rule = ${q.rule}` : sql`true`,
      q.severity ? sql`severity = ${q.severity}` : sql`true`,
      q.state === "all"
        ? sql`true`
        : q.state === "resolved"
          ? sql`resolved_at is not null`
          : sql`resolved_at is null`,
    ];
    const items = await db.execute(sql`
      select cluster, kind, namespace, name, uid, container, rule, severity, category, message,
        first_seen::text as "firstSeen", last_seen::text as "lastSeen", resolved_at::text as "resolvedAt"
      from issues where ${sql.join(filters, sql` and `)}
      order by ${WEIGHT} desc, last_seen desc limit ${limit}`);
    return { items };
  });

  app.get("/api/v1/health", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const by = q.by ?? "cluster";
    if (by !== "cluster" && by !== "namespace")
      throw badRequest("INVALID_GROUPING", `by must be cluster or namespace, got "${by}"`);
    const grants = visibleRows(request.principal);
    const where = grants ? conditionSql(grants) : sql`true`;
    const group = by === "cluster" ? sql`cluster` : sql`cluster, namespace`;
    // resource_health holds each object's score (see migration 0011); a group is their mean.
    const items = await db.execute(sql`
      select ${group}, count(*)::int as objects, (count(*) filter (where open_issues > 0))::int as "objectsWithIssues",
        round(avg(score)::numeric, 2)::float as score
      from resource_health where ${where} group by ${group} order by score, ${group}`);
    return { by, items };
  });
}

import { and, desc, eq, isNotNull, isNull, type SQL } from "drizzle-orm";
import type postgres from "postgres";
import { type Database, isoText } from "./db.js";
import { severityWeight } from "./insight.js";
import { issues } from "./schema/insight.js";

export interface IssueInput {
  rule: string;
  container?: string;
  severity: string;
  category: string;
  message: string;
}

export interface ObjectIssues {
  cluster: string;
  uid: string;
  kind: string;
  namespace: string;
  name: string;
  /** Every finding the object has now; whatever it had before and has not now is resolved. */
  issues: IssueInput[];
}

/**
 * Records the current findings of objects in one statement per batch: new ones open (first
 * seen now), continuing ones refresh last seen (and reopen if they had been resolved), and ones
 * that are gone get a resolved time. Objects deleted from the cluster pass an empty list.
 */
export async function recordIssues(
  sql: postgres.Sql,
  objects: ObjectIssues[],
  /** Which rules this pass judges: only their findings are resolved when absent. */
  scope: { rules?: string[]; exceptRules?: string[] } = {},
): Promise<void> {
  if (objects.length === 0) return;
  const rows = objects.flatMap((o) =>
    o.issues.map((i) => ({
      cluster: o.cluster,
      uid: o.uid,
      rule: i.rule,
      container: i.container ?? "",
      kind: o.kind,
      namespace: o.namespace,
      name: o.name,
      severity: i.severity,
      category: i.category,
      message: i.message,
    })),
  );
  const uidsByCluster = new Map<string, string[]>();
  for (const o of objects) {
    const uids = uidsByCluster.get(o.cluster);
    if (uids) uids.push(o.uid);
    else uidsByCluster.set(o.cluster, [o.uid]);
  }
  await sql.begin(async (tx) => {
    if (rows.length)
      await tx`
        insert into issues (cluster, uid, rule, container, kind, namespace, name, severity, category, message)
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(cluster text, uid text, rule text, container text,
          kind text, namespace text, name text, severity text, category text, message text)
        on conflict (cluster, uid, rule, container) do update set kind = excluded.kind, namespace = excluded.namespace,
          name = excluded.name, severity = excluded.severity, category = excluded.category, message = excluded.message,
          last_seen = now(), resolved_at = null,
          first_seen = case when issues.resolved_at is null then issues.first_seen else now() end`;
    // Every finding still present was stamped last_seen = now() just above, and now() is fixed
    // for the transaction, so an open finding with an older stamp is one that went away. (An
    // anti-join against the new findings instead re-parses their JSON for every candidate row
    // whenever the planner picks a nested loop, which took minutes for a whole cluster.)
    //
    // Each cluster's objects are resolved with the cluster named: whatever plan the planner
    // picks then reads that cluster's findings at most, never the fleet's. Joined to the objects
    // alone, it hashed every open finding of the fleet whenever it took that for cheaper: for a
    // batch's two objects, taken for the hundred rows it assumes of a JSON record set, with
    // statistics older than the table, 14 to 19 ms a batch at 37,000 findings, which held 100
    // clusters' changes back by 2 s under 200 changes/s. The objects come as an array, whose length
    // the planner reads off each run's values.
    for (const [cluster, uids] of uidsByCluster)
      await tx`
        update issues i set resolved_at = now()
        from unnest(${uids}::text[]) as k(uid)
        where i.cluster = ${cluster} and i.uid = k.uid and i.resolved_at is null and i.last_seen < now()
          and (${scope.rules ? tx`i.rule in (select jsonb_array_elements_text(${JSON.stringify(scope.rules)}::jsonb))` : tx`true`})
          and (${scope.exceptRules ? tx`i.rule not in (select jsonb_array_elements_text(${JSON.stringify(scope.exceptRules)}::jsonb))` : tx`true`})`;
  });
}

export interface IssueListing {
  cluster?: string | undefined;
  namespace?: string | undefined;
  kind?: string | undefined;
  rule?: string | undefined;
  severity?: string | undefined;
  state: "open" | "resolved" | "all";
  /** Conditions the caller has already made: its grants, a name pattern, the objects it addresses. */
  within: SQL[];
  limit: number;
}

/**
 * Findings, worst first (by severity_weight), then the most recently seen. Resolved findings
 * outlive their objects, so every filter reads the issues table itself; only the caller's
 * conditions may look at the objects.
 */
export async function listIssues(db: Database, listing: IssueListing) {
  const filters = [
    ...listing.within,
    listing.cluster ? eq(issues.cluster, listing.cluster) : undefined,
    listing.namespace !== undefined ? eq(issues.namespace, listing.namespace) : undefined,
    listing.kind ? eq(issues.kind, listing.kind) : undefined,
    listing.rule ? eq(issues.rule, listing.rule) : undefined,
    listing.severity ? eq(issues.severity, listing.severity) : undefined,
    listing.state === "open" ? isNull(issues.resolvedAt) : undefined,
    listing.state === "resolved" ? isNotNull(issues.resolvedAt) : undefined,
  ];
  return db
    .select({
      cluster: issues.cluster,
      kind: issues.kind,
      namespace: issues.namespace,
      name: issues.name,
      uid: issues.uid,
      container: issues.container,
      rule: issues.rule,
      severity: issues.severity,
      category: issues.category,
      message: issues.message,
      firstSeen: isoText(issues.firstSeen),
      lastSeen: isoText(issues.lastSeen),
      resolvedAt: isoText(issues.resolvedAt),
    })
    .from(issues)
    .where(and(...filters))
    .orderBy(desc(severityWeight()), desc(issues.lastSeen))
    .limit(listing.limit);
}

import type postgres from "postgres";

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
  const keys = objects.map((o) => ({ cluster: o.cluster, uid: o.uid }));
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
    await tx`
      update issues i set resolved_at = now()
      from jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) as k(cluster text, uid text)
      where i.cluster = k.cluster and i.uid = k.uid and i.resolved_at is null and i.last_seen < now()
        and (${scope.rules ? tx`i.rule in (select jsonb_array_elements_text(${JSON.stringify(scope.rules)}::jsonb))` : tx`true`})
        and (${scope.exceptRules ? tx`i.rule not in (select jsonb_array_elements_text(${JSON.stringify(scope.exceptRules)}::jsonb))` : tx`true`})`;
  });
}

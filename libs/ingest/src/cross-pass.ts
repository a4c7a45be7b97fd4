import { CROSS_OBJECT_KINDS, CROSS_OBJECT_RULES, clusterIssues, type InsightConfig } from "@atoll/insight";
import { objectsOfKinds, recordIssues } from "@atoll/store";
import type postgres from "postgres";

/**
 * One cluster's cross-object pass: loads the kinds the cross-object rules read, judges them all
 * together (PDBs, roles, selectors, references, events) and records those rules' findings.
 * Answers how many objects it judged.
 */
export async function runCrossObjectPass(
  sql: postgres.Sql,
  cluster: string,
  insight: InsightConfig | undefined,
): Promise<number> {
  const rows = await objectsOfKinds(sql, cluster, CROSS_OBJECT_KINDS);
  // biome-ignore lint/suspicious/noExplicitAny: objects are schemaless JSON
  type Loose = Record<string, any>;
  const all: Loose[] = rows.map((r) => ({
    ...(r.object as Loose),
    metadata: { ...(r.object as Loose).metadata, uid: r.uid },
  }));
  const objects = all.filter((o) => o.kind !== "Event");
  const found = clusterIssues(
    objects,
    all.filter((o) => o.kind === "Event"),
    insight,
  );
  await recordIssues(
    sql,
    objects.map((o) => ({
      cluster,
      uid: o.metadata.uid,
      kind: o.kind,
      namespace: o.metadata.namespace ?? "",
      name: o.metadata.name,
      issues: found.get(o.metadata.uid)?.issues ?? [],
    })),
    { rules: CROSS_OBJECT_RULES },
  );
  return objects.length;
}

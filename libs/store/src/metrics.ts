import type postgres from "postgres";
import { HEALTH_METRICS } from "./insight.js";

/**
 * Records the fleet's figures for dashboards: objects per cluster and kind, open issues per
 * cluster and severity, and health per cluster and namespace (the score of GET /api/v1/health).
 */
export async function recordMetricSnapshots(sql: postgres.Sql): Promise<void> {
  // One snapshot of the tables for every figure: read committed, each statement saw its own, and
  // an index write landing between them gave a snapshot with health scores but no objects.
  await sql.begin("isolation level repeatable read", async (tx) => {
    await tx`insert into metric_snapshots (metric, cluster, kind, value)
      select 'objects', cluster, kind, count(*) from resources group by cluster, kind`;
    await tx`insert into metric_snapshots (metric, cluster, severity, value)
      select 'issues', cluster, severity, count(*) from issues where resolved_at is null group by cluster, severity`;
    await tx`insert into metric_snapshots (metric, cluster, namespace, value)
      select ${HEALTH_METRICS.namespace}, cluster, namespace, avg(score) from resource_health group by cluster, namespace`;
    // A cluster's own mean over its objects: the mean of its namespaces' means would weigh a
    // namespace of one object like one of thousands.
    await tx`insert into metric_snapshots (metric, cluster, value)
      select ${HEALTH_METRICS.cluster}, cluster, avg(score) from resource_health group by cluster`;
    await tx`delete from metric_snapshots where time < now() - interval '30 days'`;
  });
}

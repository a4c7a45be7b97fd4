-- Views made for Grafana: each has a time column named "time" and tidy dimensions. They live in
-- their own schema, and the read-only role atoll_grafana may read them and nothing else.
CREATE SCHEMA IF NOT EXISTS grafana;
--> statement-breakpoint
-- Each object's health: 100·e^(−0.04·open issues − 0.06·their weight); low 1, medium 2, high 3,
-- critical 5. The API's scores and the recorded ones both read it, so the formula lives here once.
CREATE OR REPLACE VIEW resource_health AS
  SELECT r.cluster, r.namespace, r.kind, r.name, r.uid,
    coalesce(100 * exp(-0.04 * i.n - 0.06 * i.weight), 100)::double precision AS score,
    coalesce(i.n, 0)::int AS open_issues
  FROM resources r LEFT JOIN (
    SELECT cluster, uid, count(*) AS n,
      sum(CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 5 ELSE 0 END) AS weight
    FROM issues WHERE resolved_at IS NULL GROUP BY cluster, uid) i ON i.cluster = r.cluster AND i.uid = r.uid;
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.resources_by_kind AS
  SELECT time, cluster, kind, value::bigint AS objects FROM metric_snapshots WHERE metric = 'objects';
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.changes_per_minute AS
  SELECT date_trunc('minute', time) AS time, cluster, kind, count(*)::bigint AS changes
  FROM resource_changes GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.issues_by_severity AS
  SELECT time, cluster, severity, value::bigint AS issues FROM metric_snapshots WHERE metric = 'issues';
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.health_scores AS
  SELECT time, cluster, namespace, value AS score FROM metric_snapshots WHERE metric = 'health';
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.clusters_ready AS
  SELECT coalesce(last_heartbeat, created_at) AS time, name AS cluster, ready,
    coalesce(last_heartbeat > now() - interval '30 seconds', false) AS online,
    CASE WHEN ready AND coalesce(last_heartbeat > now() - interval '30 seconds', false) THEN 1 ELSE 0 END AS up
  FROM clusters;
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.top_failing_workloads AS
  SELECT max(last_seen) AS time, cluster, namespace, kind, name, count(*)::bigint AS issues,
    max(CASE severity WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 ELSE 1 END) AS worst_severity
  FROM issues WHERE resolved_at IS NULL AND kind IN ('Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'ReplicaSet')
  GROUP BY cluster, namespace, kind, name;
--> statement-breakpoint
CREATE OR REPLACE VIEW grafana.placement_status AS
  SELECT coalesce(b.scheduled_at, now()) AS time, b.namespace, b.name AS binding, b.kind, b.condition,
    c.value ->> 'name' AS cluster, (c.value ->> 'replicas')::int AS replicas,
    coalesce((b.aggregated_status -> (c.value ->> 'name') ->> 'applied')::boolean, false) AS applied,
    coalesce((b.aggregated_status -> (c.value ->> 'name') ->> 'healthy')::boolean, false) AS healthy
  FROM bindings b LEFT JOIN LATERAL jsonb_array_elements(b.clusters) AS c(value) ON true;
--> statement-breakpoint
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atoll_grafana') THEN
    CREATE ROLE atoll_grafana LOGIN;
  END IF;
END $$;
--> statement-breakpoint
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM atoll_grafana;
--> statement-breakpoint
GRANT USAGE ON SCHEMA grafana TO atoll_grafana;
--> statement-breakpoint
GRANT SELECT ON ALL TABLES IN SCHEMA grafana TO atoll_grafana;

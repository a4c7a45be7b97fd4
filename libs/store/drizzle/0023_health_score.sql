-- The health score's weights and formula, once, as SQL functions: the resource_health view and the
-- exact history of one object's score both call them, and a contract test holds them equal to
-- healthScore and SEVERITY_WEIGHT in libs/insight, which score manifests offline.
CREATE OR REPLACE FUNCTION severity_weight(severity text) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 5 ELSE 0 END;
--> statement-breakpoint
-- 100·e^(−0.04·open findings − 0.06·their summed weight): 100 with none, never below 0.
CREATE OR REPLACE FUNCTION health_score(findings bigint, weight bigint) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN 100 * exp(-0.04 * findings - 0.06 * weight);
--> statement-breakpoint
CREATE OR REPLACE VIEW resource_health AS
  SELECT r.cluster, r.namespace, r.kind, r.name, r.uid,
    coalesce(health_score(i.n, i.weight), 100)::double precision AS score,
    coalesce(i.n, 0)::int AS open_issues
  FROM resources r LEFT JOIN (
    SELECT cluster, uid, count(*) AS n, sum(severity_weight(severity)) AS weight
    FROM issues WHERE resolved_at IS NULL GROUP BY cluster, uid) i ON i.cluster = r.cluster AND i.uid = r.uid;

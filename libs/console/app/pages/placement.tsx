import { type Json, withQuery } from "../api.js";
import { Link, Pager, Problem, Table, useApi } from "../components.js";
import { href, navigate, type Route } from "../router.js";

/** Bindings a page shows. */
const PAGE = 100;

/** The API gives each cluster's reason; a fleet shares a few reasons among many clusters. */
function byReason(rejected: Record<string, string>): Map<string, string[]> {
  const reasons = new Map<string, string[]>();
  for (const [cluster, reason] of Object.entries(rejected))
    reasons.set(reason, [...(reasons.get(reason) ?? []), cluster]);
  return reasons;
}

/** Placement: bindings, where each template went and why the other clusters were not chosen. */
export function PlacementPage(props: { route: Route }) {
  const { query } = props.route;
  const after = query.get("continue") ?? "";
  const page = Number(query.get("page") ?? "1") || 1;
  const bindings = useApi(withQuery("/api/v1/bindings", { limit: PAGE, continue: after }));
  const items: Json[] = bindings.data?.items ?? [];
  return (
    <section class="page">
      <h1>Placement</h1>
      <Problem error={bindings.error} />
      <Table
        testId="bindings"
        head={["NAMESPACE", "BINDING", "TEMPLATE", "POLICY", "CLUSTERS", "CONDITION"]}
        rows={items.map((b) => [
          b.namespace,
          <Link href={href(`placement/${encodeURIComponent(b.namespace)}/${encodeURIComponent(b.name)}`)}>
            {b.name}
          </Link>,
          `${b.kind}/${b.templateName}`,
          b.policy || "—",
          (b.clusters ?? [])
            .map((c: Json) => (c.replicas === undefined ? c.name : `${c.name}:${c.replicas}`))
            .join(", ") || "—",
          b.condition,
        ])}
        empty={
          bindings.loading
            ? "Loading…"
            : "No binding you may read. Apply a template and a policy with atoll apply."
        }
      />
      <Pager
        page={page}
        next={bindings.data?.continue}
        loading={bindings.loading}
        onNext={(token) => navigate(href("placement", { continue: token, page: String(page + 1) }))}
      />
    </section>
  );
}

/** One binding: the decision, each rejection's reason, and the copy's status and health per cluster. */
export function BindingPage(props: { namespace: string; name: string }) {
  const binding = useApi(
    `/api/v1/bindings/${encodeURIComponent(props.namespace)}/${encodeURIComponent(props.name)}`,
  );
  const b = binding.data;
  return (
    <section class="page">
      <p>
        <Link href={href("placement")}>← Placement</Link>
      </p>
      <h1>
        {props.namespace}/{props.name}
      </h1>
      <Problem error={binding.error} />
      {b && (
        <>
          <dl class="facts">
            <dt>Template</dt>
            <dd>
              {b.kind}/{b.templateName}
            </dd>
            <dt>Policy</dt>
            <dd>{b.policy || "none"}</dd>
            <dt>Condition</dt>
            <dd>
              {b.condition}: {b.message}
            </dd>
            {(b.readiness?.desiredReplicas ?? 0) > 0 && (
              <>
                <dt>Ready</dt>
                <dd>
                  {b.readiness.readyReplicas} of {b.readiness.desiredReplicas} replicas
                  {b.readiness.unknownClusters?.length
                    ? ` (unknown on ${b.readiness.unknownClusters.join(", ")})`
                    : ""}
                </dd>
              </>
            )}
          </dl>
          <h2>Where it went</h2>
          <Table
            testId="binding-clusters"
            head={["CLUSTER", "PLACED", "REPLICAS", "APPLIED", "HEALTH", "WHY"]}
            rows={(b.clusterStatus ?? []).map((c: Json) => [
              c.cluster,
              c.placed ? "yes" : "leaving",
              b.clusters?.find((p: Json) => p.name === c.cluster)?.replicas ?? "—",
              c.applied ? "yes" : "no",
              <span class={c.health === "Healthy" ? "ok" : c.health === "Unknown" ? "warn" : "bad"}>
                {c.health}
              </span>,
              c.reason ?? "",
            ])}
          />
          <h2>Why not elsewhere</h2>
          <Table
            testId="binding-rejections"
            head={["REASON", "CLUSTERS"]}
            rows={[...byReason((b.rejected ?? {}) as Record<string, string>)].map(([reason, clusters]) => [
              reason,
              `${clusters.slice(0, 20).join(", ")}${clusters.length > 20 ? ` and ${clusters.length - 20} more` : ""}`,
            ])}
            empty="Every cluster you may read was chosen."
          />
        </>
      )}
    </section>
  );
}

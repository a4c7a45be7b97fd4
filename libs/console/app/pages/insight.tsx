import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { type Json, withQuery } from "../api.js";
import {
  AiAnswer,
  age,
  Field,
  Problem,
  Severity,
  Table,
  TextFields,
  useApi,
  useFilters,
} from "../components.js";
import { href, navigate, type Route } from "../router.js";

const SEVERITIES = ["", "critical", "high", "medium", "low"];

/** A score's history as a line chart (uPlot: small, and fast with thousands of points). */
function ScoreChart(props: { series: Json[] }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = element.current;
    if (!target || props.series.length === 0) return;
    const times = [
      ...new Set(props.series.flatMap((s: Json) => s.points.map((p: Json) => Date.parse(p.time) / 1000))),
    ].sort((a, b) => (a as number) - (b as number)) as number[];
    const lines = props.series.map((s: Json) => {
      const at = new Map(s.points.map((p: Json) => [Date.parse(p.time) / 1000, p.score]));
      return times.map((t) => (at.get(t) as number | undefined) ?? null);
    });
    const colours = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
    const chart = new uPlot(
      {
        width: Math.max(320, target.clientWidth),
        height: 220,
        scales: { y: { range: [0, 100] } },
        series: [
          {},
          ...props.series.map((s: Json, i: number) => ({
            label: s.namespace ? `${s.cluster}/${s.namespace}` : s.cluster,
            stroke: colours[i % colours.length],
            spanGaps: true,
          })),
        ],
      },
      [times, ...lines] as uPlot.AlignedData,
      target,
    );
    return () => chart.destroy();
  }, [props.series]);
  return <div ref={element} class="chart" data-testid="score-chart" />;
}

/**
 * Insight: health scores by cluster and namespace with their history, and findings (the audit's
 * and the runtime checks') filterable by severity, rule, cluster and namespace.
 */
export function InsightPage(props: { route: Route }) {
  const { query } = props.route;
  const { filters, draft, setDraft } = useFilters(query, [
    "severity",
    "rule",
    "cluster",
    "namespace",
  ] as const);
  const by = filters.cluster ? "namespace" : "cluster";
  const scores = useApi(withQuery("/api/v1/insight/score", { by, cluster: filters.cluster }));
  const history = useApi(
    withQuery("/api/v1/insight/score/history", { by, cluster: filters.cluster, since: "7d" }),
  );
  const issues = useApi(withQuery("/api/v1/insight/issues", { ...filters, limit: 500 }));
  const set = (next: Partial<typeof filters>) => navigate(href("insight", { ...filters, ...next }));
  return (
    <section class="page">
      <h1>Insight</h1>
      <div class="columns">
        <div>
          <h2>Health by {by}</h2>
          <Problem error={scores.error} />
          <Table
            testId="scores"
            head={
              by === "cluster"
                ? ["CLUSTER", "SCORE", "OBJECTS", "WITH ISSUES"]
                : ["NAMESPACE", "SCORE", "OBJECTS", "WITH ISSUES"]
            }
            rows={(scores.data?.items ?? []).map((s: Json) => [
              by === "cluster" ? s.cluster : s.namespace || "(cluster-scoped)",
              <strong class={s.score >= 90 ? "ok" : s.score >= 70 ? "warn" : "bad"}>
                {Math.round(s.score)}
              </strong>,
              s.objects,
              s.objectsWithIssues,
            ])}
            onRow={(index) => {
              const s = scores.data?.items?.[index];
              if (s) set(by === "cluster" ? { cluster: s.cluster } : { namespace: s.namespace });
            }}
          />
        </div>
        <div>
          <h2>History (7 days)</h2>
          <Problem error={history.error} />
          {(history.data?.items ?? []).length > 0 ? (
            <ScoreChart series={history.data.items} />
          ) : (
            <p class="muted">No history yet: the scheduler records scores every minute.</p>
          )}
        </div>
      </div>
      <h2>Findings</h2>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          set(draft);
        }}
      >
        <Field label="Severity">
          <select
            value={draft.severity}
            onChange={(e) => set({ severity: (e.target as HTMLSelectElement).value })}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </Field>
        <TextFields keys={["rule", "cluster", "namespace"] as const} draft={draft} onChange={setDraft} />
        <button type="submit">Filter</button>
      </form>
      <AiAnswer
        path={withQuery("/api/v1/insight/ai/explain", { ...filters, limit: 50 })}
        label="Explain these findings, with fixes"
        busy="Explaining…"
      />
      <Problem error={issues.error} />
      <Table
        testId="findings"
        head={["SEVERITY", "RULE", "CATEGORY", "CLUSTER", "NAMESPACE", "OBJECT", "WHY", "SINCE"]}
        rows={(issues.data?.items ?? []).map((i: Json) => [
          <Severity value={i.severity} />,
          i.rule,
          i.category,
          i.cluster,
          i.namespace || "—",
          `${i.kind}/${i.name}`,
          i.message,
          age(i.firstSeen),
        ])}
        empty={issues.loading ? "Loading…" : "No open findings here."}
      />
    </section>
  );
}

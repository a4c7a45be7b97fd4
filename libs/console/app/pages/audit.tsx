import { type Json, withQuery } from "../api.js";
import { Field, Problem, Table, TextFields, useApi, useFilters } from "../components.js";
import { href, navigate, type Route } from "../router.js";

const FILTERS = ["user", "cluster", "verb", "namespace", "resource"] as const;

/** The gateway's audit (admins): writes through the live gateway, and refused ones. */
export function AuditPage(props: { route: Route }) {
  const { query } = props.route;
  const { filters, draft, setDraft } = useFilters(query, FILTERS);
  const outcome = query.get("outcome") ?? "";
  const audit = useApi(withQuery("/api/v1/gateway/audit", { ...filters, outcome, limit: 200 }));
  return (
    <section class="page">
      <h1>Gateway audit</h1>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          navigate(href("audit", { ...draft, outcome }));
        }}
      >
        <TextFields keys={FILTERS} draft={draft} onChange={setDraft} />
        <Field label="Outcome">
          <select
            value={outcome}
            onChange={(e) =>
              navigate(href("audit", { ...filters, outcome: (e.target as HTMLSelectElement).value }))
            }
          >
            <option value="">any</option>
            <option value="failed">refused or failed</option>
            <option value="succeeded">succeeded</option>
          </select>
        </Field>
        <button type="submit">Filter</button>
      </form>
      <Problem error={audit.error} />
      <Table
        testId="audit"
        head={["TIME", "USER", "CLUSTER", "VERB", "RESOURCE", "NAMESPACE", "NAME", "CODE"]}
        rows={(audit.data?.items ?? []).map((e: Json) => [
          new Date(e.at).toISOString().replace("T", " ").slice(0, 19),
          e.user,
          e.cluster,
          e.verb,
          e.resource || "—",
          e.namespace || "—",
          e.name || "—",
          e.code,
        ])}
        empty={audit.loading ? "Loading…" : "No write went through the gateway with these filters."}
      />
    </section>
  );
}

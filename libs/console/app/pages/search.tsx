import { useEffect, useState } from "preact/hooks";
import { type Json, withQuery } from "../api.js";
import { age, Pager, Problem, Table, useApi } from "../components.js";
import { href, navigate, type Route } from "../router.js";
import { ObjectDrawer, type ObjectRef } from "./object.js";

const MODES = [
  { value: "keyword", label: "Keyword", hint: "kind:Pod namespace:prod status:CrashLoopBackOff" },
  { value: "sql", label: "SQL", hint: "SELECT * FROM resources WHERE kind = 'Pod' AND namespace = 'prod'" },
  { value: "nl", label: "Plain language", hint: "pods not running in prod · 哪些 pod 没有运行" },
] as const;
const PAGE = 50;

/** How an object is doing, in a word: a Pod's phase, a workload's ready replicas. */
function status(object: Json): string {
  if (typeof object?.status?.phase === "string") return object.status.phase;
  if (typeof object?.spec?.replicas === "number")
    return `${object.status?.readyReplicas ?? 0}/${object.spec.replicas} ready`;
  return "";
}

/**
 * Search: one box for the three modes, the SQL the query was read as (editable), results with
 * their cluster, paged through every result, and an object's drawer.
 */
export function SearchPage(props: { route: Route }) {
  const { query } = props.route;
  const q = query.get("q") ?? "";
  const mode = query.get("mode") ?? "keyword";
  const after = query.get("continue") ?? "";
  const page = Number(query.get("page") ?? "1") || 1;
  const [text, setText] = useState(q);
  const [sql, setSql] = useState("");
  const [open, setOpen] = useState<ObjectRef | null>(null);
  useEffect(() => setText(q), [q]);
  const answer = useApi(q ? withQuery("/api/v1/search", { q, mode, limit: PAGE, continue: after }) : null);
  useEffect(() => setSql(answer.data?.sql ?? ""), [answer.data]);
  const go = (next: Record<string, string | undefined>) => navigate(href("search", { q, mode, ...next }));
  const items: Json[] = answer.data?.items ?? [];
  return (
    <section class="page">
      <form
        class="search"
        onSubmit={(event) => {
          event.preventDefault();
          go({ q: text.trim(), continue: undefined, page: undefined });
        }}
      >
        <div class="modes" role="radiogroup" aria-label="Query language">
          {MODES.map((m) => (
            <label key={m.value}>
              <input
                type="radio"
                name="mode"
                value={m.value}
                checked={mode === m.value}
                onChange={() => go({ mode: m.value, continue: undefined, page: undefined })}
              />
              {m.label}
            </label>
          ))}
        </div>
        <div class="row">
          <input
            name="q"
            aria-label="Search"
            placeholder={MODES.find((m) => m.value === mode)?.hint}
            value={text}
            onInput={(event) => setText((event.target as HTMLInputElement).value)}
          />
          <button type="submit">Search</button>
        </div>
      </form>
      <Problem error={answer.error} />
      {answer.data && (
        <>
          <details class="sql" open={mode !== "sql"}>
            <summary>Read as SQL</summary>
            <form
              onSubmit={(event) => {
                event.preventDefault();
                navigate(href("search", { q: sql, mode: "sql" }));
              }}
            >
              <textarea
                aria-label="SQL"
                rows={3}
                value={sql}
                onInput={(event) => setSql((event.target as HTMLTextAreaElement).value)}
              />
              <button type="submit">Run SQL</button>
            </form>
          </details>
          {(answer.data.notes ?? []).map((note: string) => (
            <p class="note" key={note}>
              {note}
            </p>
          ))}
          <p class="summary" data-testid="result-summary" data-loading={String(answer.loading)}>
            {answer.loading
              ? "Loading…"
              : `${answer.data.totalIsEstimate ? "about " : ""}${answer.data.total} results · page ${page}`}
          </p>
          {answer.data.aggregations ? (
            <Table
              head={Object.keys(answer.data.aggregations[0] ?? {}).map((k) => k.toUpperCase())}
              rows={answer.data.aggregations.map((row: Json) => Object.values(row).map(String))}
            />
          ) : (
            <Table
              testId="results"
              head={["CLUSTER", "NAMESPACE", "KIND", "NAME", "STATUS", "AGE"]}
              rows={items.map((item) => [
                item.cluster,
                item.namespace || "—",
                item.kind,
                item.name,
                status(item.object),
                age(item.object?.metadata?.creationTimestamp),
              ])}
              onRow={(index) => setOpen(items[index] ?? null)}
              empty="No object matches, among those you may read."
            />
          )}
          <Pager
            page={page}
            next={answer.data.continue}
            loading={answer.loading}
            onNext={(token) => go({ continue: token, page: String(page + 1) })}
          />
        </>
      )}
      {!q && <p class="muted">Search every cluster you may read, in any of the three languages.</p>}
      {open && <ObjectDrawer item={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

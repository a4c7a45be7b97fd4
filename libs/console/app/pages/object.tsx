import { useState } from "preact/hooks";
import { stringify } from "yaml";
import { type Json, withQuery } from "../api.js";
import { AiAnswer, age, Link, Problem, Severity, Table, useApi } from "../components.js";
import { href } from "../router.js";

export interface ObjectRef {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  object?: Json;
}

const TABS = ["YAML", "Events", "Findings", "Diagnosis"] as const;

/** One object: its YAML as indexed (Secrets redacted as stored), events, findings, diagnosis. */
export function ObjectDrawer(props: { item: ObjectRef; onClose: () => void }) {
  const { item } = props;
  const [tab, setTab] = useState<(typeof TABS)[number]>("YAML");
  const address = { cluster: item.cluster, kind: item.kind, namespace: item.namespace, name: item.name };
  return (
    <aside class="drawer" data-testid="object-drawer" aria-label={`${item.kind} ${item.name}`}>
      <header>
        <div>
          <div class="muted">
            {item.cluster} · {item.kind}
          </div>
          <h2>
            {item.namespace ? `${item.namespace}/` : ""}
            {item.name}
          </h2>
        </div>
        <button type="button" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </header>
      <nav class="tabs">
        {TABS.map((t) => (
          <button type="button" key={t} class={t === tab ? "active" : ""} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
        <Link href={href("topology", { ...address, level: "object" })}>Topology →</Link>
      </nav>
      {tab === "YAML" && <pre class="yaml">{stringify(item.object ?? {}, { lineWidth: 0 })}</pre>}
      {tab === "Events" && <Events address={address} />}
      {tab === "Findings" && <Findings address={address} />}
      {tab === "Diagnosis" && <Diagnosis address={address} />}
    </aside>
  );
}

function Events(props: { address: Record<string, string> }) {
  const events = useApi(withQuery("/api/v1/insight/events", { ...props.address, limit: 50 }));
  return (
    <>
      <Problem error={events.error} />
      <Table
        head={["AGE", "TYPE", "REASON", "MESSAGE", "COUNT"]}
        rows={(events.data?.items ?? []).map((e: Json) => [
          age(e.time),
          e.type,
          e.reason,
          e.message,
          e.count,
        ])}
        empty={events.loading ? "Loading…" : "No events about this object."}
      />
    </>
  );
}

function Findings(props: { address: Record<string, string> }) {
  const issues = useApi(withQuery("/api/v1/insight/issues", { ...props.address, limit: 100 }));
  return (
    <>
      <Problem error={issues.error} />
      <Table
        head={["SEVERITY", "RULE", "CATEGORY", "MESSAGE", "SINCE"]}
        rows={(issues.data?.items ?? []).map((i: Json) => [
          <Severity value={i.severity} />,
          i.rule,
          i.category,
          i.message,
          age(i.firstSeen),
        ])}
        empty={issues.loading ? "Loading…" : "No open findings."}
      />
    </>
  );
}

/** The runtime diagnosis: the rules' reading of findings, events and related objects, with why and fix. */
function Diagnosis(props: { address: Record<string, string> }) {
  return (
    <AiAnswer
      path={withQuery("/api/v1/insight/ai/diagnose", props.address)}
      label="Diagnose"
      busy="Diagnosing…"
      testId="diagnosis"
    />
  );
}

import cytoscape from "cytoscape";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Json, withQuery } from "../api.js";
import { Field, Problem, TextFields, useApi, useFilters } from "../components.js";
import { href, navigate, type Route } from "../router.js";

/** What a topology is of: the URL's parameters. */
const ADDRESS = ["cluster", "namespace", "kind", "name", "level"] as const;

/** Past this many objects the graph is laid out in columns by kind, in linear time, not by forces. */
const FORCE_LAYOUT_LIMIT = 300;

const KIND_COLOURS: Record<string, string> = {
  Deployment: "#2563eb",
  ReplicaSet: "#60a5fa",
  StatefulSet: "#1d4ed8",
  DaemonSet: "#1e40af",
  Job: "#7c3aed",
  CronJob: "#6d28d9",
  Pod: "#16a34a",
  Service: "#ea580c",
  Ingress: "#c2410c",
  ConfigMap: "#64748b",
  Secret: "#475569",
  PersistentVolumeClaim: "#0891b2",
  PersistentVolume: "#0e7490",
  ServiceAccount: "#a16207",
  Node: "#334155",
};

interface Graph {
  nodes: { id: string; label: string; kind: string; count?: number; object?: Json }[];
  edges: { id: string; source: string; target: string; label: string }[];
}

/** The API's answer as nodes and edges: objects at level object, kinds at level kind. */
function graphOf(answer: Json): Graph {
  if (answer.level === "kind")
    return {
      nodes: (answer.kinds ?? []).map((k: Json) => ({
        id: k.kind,
        label: `${k.kind} ×${k.count}`,
        kind: k.kind,
        count: k.count,
      })),
      edges: (answer.relations ?? []).map((r: Json, i: number) => ({
        id: `e${i}`,
        source: r.from,
        target: r.to,
        label: `${r.relation} (${r.count})`,
      })),
    };
  return {
    nodes: (answer.nodes ?? []).map((n: Json) => ({
      id: n.uid,
      label: `${n.kind}/${n.name}`,
      kind: n.kind,
      object: n,
    })),
    edges: (answer.edges ?? []).map((e: Json, i: number) => ({
      id: `e${i}`,
      source: e.from,
      target: e.to,
      label: e.relation,
    })),
  };
}

/**
 * Topology: an interactive graph of owner, selector, volume and network edges, for a namespace or
 * around one object. Cytoscape draws on a canvas, which stays responsive with 10,000 nodes when
 * the layout is computed in one pass and edges are hidden while the view moves.
 */
export function TopologyPage(props: { route: Route }) {
  const { query } = props.route;
  const { filters: address, draft, setDraft } = useFilters(query, ADDRESS);
  const answer = useApi(address.cluster ? withQuery("/api/v1/insight/topology", address) : null);
  const element = useRef<HTMLDivElement>(null);
  const [drawn, setDrawn] = useState<{ nodes: number; edges: number; ms: number } | null>(null);
  const [selected, setSelected] = useState<Json | null>(null);

  useEffect(() => {
    const container = element.current;
    if (!container || !answer.data) return;
    const started = performance.now();
    const graph = graphOf(answer.data);
    const large = graph.nodes.length > FORCE_LAYOUT_LIMIT;
    // Columns by kind, rows within: one pass, so a 10,000-object namespace lays out at once.
    const columns = [...new Set(graph.nodes.map((n) => n.kind))].sort();
    const rowOf = new Map<string, number>();
    const positions = new Map<string, { x: number; y: number }>();
    for (const node of graph.nodes) {
      const row = rowOf.get(node.kind) ?? 0;
      rowOf.set(node.kind, row + 1);
      positions.set(node.id, { x: columns.indexOf(node.kind) * 260, y: row * 28 });
    }
    const cy = cytoscape({
      container,
      elements: [
        ...graph.nodes.map((n) => ({
          data: { id: n.id, label: n.label, kind: n.kind },
          position: positions.get(n.id)!,
        })),
        ...graph.edges.map((e) => ({ data: e })),
      ],
      style: [
        {
          selector: "node",
          style: {
            label: "data(label)",
            "font-size": 10,
            "background-color": (node: cytoscape.NodeSingular) =>
              KIND_COLOURS[node.data("kind")] ?? "#94a3b8",
            width: 14,
            height: 14,
            "text-valign": "bottom",
            "min-zoomed-font-size": 8,
          },
        },
        {
          selector: "edge",
          style: {
            width: 1,
            "line-color": "#cbd5e1",
            "target-arrow-color": "#cbd5e1",
            "target-arrow-shape": "triangle",
            "curve-style": large ? "haystack" : "bezier",
            ...(large
              ? {}
              : { label: "data(label)", "font-size": 8, color: "#64748b", "min-zoomed-font-size": 8 }),
          },
        },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#0f172a" } },
      ],
      layout: large
        ? { name: "preset" }
        : { name: "cose", animate: false, nodeDimensionsIncludeLabels: true, randomize: false },
      hideEdgesOnViewport: large,
      textureOnViewport: large,
      pixelRatio: large ? 1 : "auto",
      wheelSensitivity: 0.3,
    });
    cy.on("tap", "node", (event) => {
      const id = event.target.id();
      setSelected(graph.nodes.find((n) => n.id === id)?.object ?? null);
    });
    setDrawn({
      nodes: graph.nodes.length,
      edges: graph.edges.length,
      ms: Math.round(performance.now() - started),
    });
    return () => cy.destroy();
  }, [answer.data]);

  return (
    <section class="page">
      <h1>Topology</h1>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          navigate(href("topology", draft));
        }}
      >
        <TextFields
          keys={["cluster", "namespace", "kind", "name"] as const}
          draft={draft}
          onChange={setDraft}
        />
        <Field label="Level">
          <select
            value={draft.level}
            onChange={(e) => setDraft({ ...draft, level: (e.target as HTMLSelectElement).value })}
          >
            <option value="">default</option>
            <option value="object">object</option>
            <option value="kind">kind</option>
          </select>
        </Field>
        <button type="submit">Show</button>
      </form>
      <Problem error={answer.error} />
      {!address.cluster && (
        <p class="muted">Name a cluster, and a namespace or an object, to see how its objects relate.</p>
      )}
      {drawn && (
        <p class="summary" data-testid="topology-summary">
          {drawn.nodes} nodes, {drawn.edges} edges, drawn in {drawn.ms} ms
        </p>
      )}
      <div ref={element} class="graph" data-testid="topology-graph" />
      {selected && (
        <p class="note">
          {selected.kind} {selected.namespace}/{selected.name} in {selected.cluster} ·{" "}
          <a
            href={href("topology", {
              cluster: selected.cluster,
              namespace: selected.namespace,
              kind: selected.kind,
              name: selected.name,
              level: "object",
            })}
            onClick={(event) => {
              event.preventDefault();
              navigate((event.currentTarget as HTMLAnchorElement).getAttribute("href")!);
            }}
          >
            centre on it
          </a>
        </p>
      )}
    </section>
  );
}

import { useState } from "preact/hooks";
import type { Json } from "../api.js";
import { age, Problem, Table, useApi } from "../components.js";

const GiB = 1024 ** 3;

function capacity(status: Json): { cpu: string; memory: string; pods: string } {
  const used = status?.allocated ?? {};
  const all = status?.allocatable ?? {};
  if (!all.cpuMillis) return { cpu: "—", memory: "—", pods: "—" };
  return {
    cpu: `${((used.cpuMillis ?? 0) / 1000).toFixed(1)} / ${(all.cpuMillis / 1000).toFixed(1)}`,
    memory: `${((used.memoryBytes ?? 0) / GiB).toFixed(1)} / ${((all.memoryBytes ?? 0) / GiB).toFixed(1)} GiB`,
    pods: `${used.pods ?? 0} / ${all.pods ?? 0}`,
  };
}

/** Clusters: mode, readiness, heartbeat age, version, nodes and capacity, sync state per type. */
export function ClustersPage() {
  const clusters = useApi("/api/v1/clusters");
  const [open, setOpen] = useState<string | null>(null);
  const items: Json[] = clusters.data?.items ?? [];
  const selected = items.find((c) => c.name === open);
  return (
    <section class="page">
      <h1>Clusters</h1>
      <Problem error={clusters.error} />
      <Table
        testId="clusters"
        head={[
          "NAME",
          "MODE",
          "READY",
          "HEARTBEAT",
          "VERSION",
          "NODES",
          "CPU",
          "MEMORY",
          "PODS",
          "OBJECTS",
          "SYNC",
        ]}
        rows={items.map((c) => {
          const sync: Json[] = c.status?.sync ?? [];
          const watching = sync.filter((s) => s.state === "watching").length;
          const { cpu, memory, pods } = capacity(c.status);
          return [
            c.name,
            c.syncMode,
            <span class={c.online && c.ready ? "ok" : "bad"}>
              {c.online ? (c.ready ? "Ready" : "NotReady") : "Offline"}
            </span>,
            age(c.lastHeartbeat),
            c.kubernetesVersion || "—",
            c.status?.nodes ? `${c.status.nodes.ready}/${c.status.nodes.total}` : "—",
            cpu,
            memory,
            pods,
            c.objects,
            sync.length ? `${watching}/${sync.length} watching` : "—",
          ];
        })}
        onRow={(index) => setOpen(items[index]?.name ?? null)}
        empty={clusters.loading ? "Loading…" : "No cluster you may see."}
      />
      {selected && (
        <div class="panel" data-testid="cluster-sync">
          <h2>Sync state of {selected.name}</h2>
          <Table
            head={["RESOURCE", "STATE", "OBJECTS", "LAST LIST", "ERROR"]}
            rows={(selected.status?.sync ?? []).map((s: Json) => [
              s.resource,
              s.state,
              s.objects,
              age(s.lastList),
              s.lastError ?? "",
            ])}
            empty="This view of the cluster shows no sync state (it needs read over the whole cluster)."
          />
        </div>
      )}
    </section>
  );
}

import { type Rejections, rejectionsWithin } from "@atoll/placement";
import type { ClusterReachability } from "@atoll/store";

export type ClusterHealth = "Healthy" | "Unhealthy" | "Unknown";

export interface ClusterStatus {
  cluster: string;
  /** The binding places the template there now; false while a copy is still being removed. */
  placed: boolean;
  applied: boolean;
  /** The hub hears from the cluster and its agent reaches the API server. */
  reachable: boolean;
  health: ClusterHealth;
  /** Why the health is not Healthy. */
  reason?: string;
}

interface AgentReport {
  applied?: boolean;
  healthy?: boolean;
  manifests?: { kind?: string; name?: string; healthy?: boolean; message?: string }[];
}

type BindingClusters = { clusters: { name: string }[]; aggregatedStatus: Record<string, unknown> };

/** The clusters a binding involves: those it places on, and those still reporting a copy being removed. */
export function bindingClusterNames(binding: BindingClusters): string[] {
  return [
    ...new Set([...binding.clusters.map((c) => c.name), ...Object.keys(binding.aggregatedStatus)]),
  ].sort();
}

/**
 * Each cluster's part in a binding: applied and health, as Karmada's aggregatedStatus gives them,
 * except that a cluster the hub no longer hears from, or whose agent cannot reach its API server,
 * is Unknown rather than keeping its last report's Healthy (Karmada's #2989).
 */
export function clusterStatuses(
  binding: BindingClusters,
  reachability: ClusterReachability[],
): ClusterStatus[] {
  const placed = new Set(binding.clusters.map((c) => c.name));
  const names = bindingClusterNames(binding);
  const reach = new Map(reachability.map((r) => [r.name, r]));
  return names.map((cluster) => {
    const report = binding.aggregatedStatus[cluster] as AgentReport | undefined;
    const seen = reach.get(cluster);
    const base = {
      cluster,
      placed: placed.has(cluster),
      applied: report?.applied === true,
      reachable: seen?.online === true && seen.ready,
    };
    if (!seen?.online)
      return {
        ...base,
        health: "Unknown",
        reason: `no heartbeat from cluster ${cluster} ${seen?.lastHeartbeat ? `since ${seen.lastHeartbeat}` : "yet"}; its last report may be out of date`,
      };
    if (!seen.ready)
      return {
        ...base,
        health: "Unknown",
        reason: `the agent of cluster ${cluster} cannot reach its API server`,
      };
    if (!report) return { ...base, health: "Unknown", reason: "waiting for the agent's first report" };
    if (report.healthy === false) {
      const sick = report.manifests?.find((m) => m.healthy === false);
      return {
        ...base,
        health: "Unhealthy",
        reason: sick
          ? `${sick.kind} ${sick.name}${sick.message ? `: ${sick.message}` : " is not healthy"}`
          : "not healthy",
      };
    }
    return { ...base, health: "Healthy" };
  });
}

/**
 * A binding as a caller who may read only some clusters sees it: the decision, rejections,
 * status and eviction tasks of those clusters alone. The scheduler's message may name other
 * clusters and count the fleet, so it is replaced by one built from what the caller may see.
 */
export function bindingWithin<B extends BindingView>(binding: B, sees: (cluster: string) => boolean): B {
  const pick = <V>(record: Record<string, V>) =>
    Object.fromEntries(Object.entries(record).filter(([cluster]) => sees(cluster)));
  const clusters = binding.clusters.filter((c) => sees(c.name));
  return {
    ...binding,
    clusters,
    rejected: rejectionsWithin(binding.rejected, sees),
    aggregatedStatus: pick(binding.aggregatedStatus),
    evictionTasks: binding.evictionTasks.filter((t) => sees(String(t.fromCluster ?? ""))),
    message:
      `${binding.condition}: ${clusters.length ? `placed on ${clusters.map((c) => c.name).join(", ")}` : "placed on none of the clusters you may read"}; ` +
      "the rest of the decision concerns clusters outside your grants",
  };
}

interface BindingView extends BindingClusters {
  rejected: Rejections;
  evictionTasks: Record<string, unknown>[];
  condition: string;
  message: string;
}

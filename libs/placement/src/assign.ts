import { duplicated, dynamicScale, staticWeight, strategyOf } from "./division.js";
import { type Candidate, type ClusterInfo, type Placement, PlacementError } from "./types.js";
import type { Seats } from "./webster.js";

export interface AssignInput {
  placement: Placement;
  /** The selected clusters. */
  clusters: (Candidate & Pick<ClusterInfo, "labels">)[];
  replicas: number;
  /** A workload has replicas or per-replica requirements; anything else goes everywhere unsized. */
  workload?: boolean;
  previousAssignment?: Seats;
  uid?: string;
  mode?: "Steady" | "Fresh";
  /** The clusterAffinities term being scheduled; its overflow tiers divide replicas in turn. */
  observedAffinityName?: string;
}

/** A target cluster, with its replica count for workloads. */
export interface TargetCluster {
  name: string;
  replicas?: number;
}

function byStrategy(
  input: AssignInput,
  clusters: AssignInput["clusters"],
  replicas: number,
  previous: Seats,
): Seats {
  const strategy = strategyOf(input.placement.replicaScheduling);
  switch (strategy) {
    case "Duplicated":
      return duplicated(
        clusters.map((c) => c.name),
        replicas,
      );
    case "StaticWeight":
      return staticWeight(
        clusters,
        input.placement.replicaScheduling?.weightPreference?.staticWeightList,
        replicas,
        input.uid,
      );
    case "DynamicWeight":
    case "Aggregated":
      return dynamicScale(clusters, previous, replicas, {
        aggregated: strategy === "Aggregated",
        mode: input.mode ?? "Steady",
        uid: input.uid ?? "",
      });
  }
}

const hasOverflow = (input: AssignInput) =>
  Boolean(
    input.placement.clusterAffinities?.find((t) => t.affinityName === input.observedAffinityName)
      ?.overflowAffinities?.length,
  );

/**
 * Replicas per selected cluster. Non-workloads (ConfigMaps, Services) go to every cluster with
 * no count. With overflow tiers, each tier takes what its clusters can hold before the next.
 */
export function assignReplicas(input: AssignInput): TargetCluster[] {
  if (input.clusters.length === 0)
    throw new PlacementError("NO_CLUSTERS", "no clusters available to schedule");
  const workload = input.workload ?? input.replicas > 0;
  if (!workload) return input.clusters.map((c) => ({ name: c.name }));
  const previous = input.previousAssignment ?? {};
  let seats: Seats;
  if (hasOverflow(input) && strategyOf(input.placement.replicaScheduling) !== "Duplicated") {
    seats = {};
    let remaining = input.replicas;
    const tiers = [...new Set(input.clusters.map((c) => c.overflowOrder))].sort((a, b) => a - b);
    for (const tier of tiers) {
      if (remaining <= 0) break;
      const members = input.clusters.filter((c) => c.overflowOrder === tier);
      const tierReplicas = Math.min(
        remaining,
        members.reduce((s, c) => s + c.availableReplicas, 0),
      );
      if (tierReplicas <= 0) continue;
      const tierPrevious = Object.fromEntries(
        Object.entries(previous).filter(([name]) => members.some((m) => m.name === name)),
      );
      Object.assign(seats, byStrategy(input, members, tierReplicas, tierPrevious));
      remaining -= tierReplicas;
    }
    if (remaining > 0)
      throw new PlacementError("UNSCHEDULABLE", "Clusters available replicas are not enough to schedule.");
  } else {
    seats = byStrategy(input, input.clusters, input.replicas, previous);
  }
  return Object.entries(seats)
    .filter(([, replicas]) => replicas > 0)
    .map(([name, replicas]) => ({ name, replicas }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

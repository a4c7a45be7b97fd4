import { clusterMatches } from "./affinity.js";
import {
  type Candidate,
  type ClusterInfo,
  PlacementError,
  type ReplicaScheduling,
  type StaticWeight,
} from "./types.js";
import { allocateWebsterSeats, type Seats, tieBreakerForUid } from "./webster.js";

export type Strategy = "Duplicated" | "StaticWeight" | "DynamicWeight" | "Aggregated";

/** Which division a placement asks for; no replicaScheduling at all means Duplicated. */
export function strategyOf(scheduling: ReplicaScheduling | undefined): Strategy {
  if (!scheduling) return "Duplicated";
  const type = scheduling.replicaSchedulingType ?? "Divided";
  if (type === "Duplicated") return "Duplicated";
  if (type === "Divided") {
    const preference = scheduling.replicaDivisionPreference || "Weighted";
    if (preference === "Aggregated") return "Aggregated";
    if (preference === "Weighted")
      return scheduling.weightPreference?.dynamicWeight ? "DynamicWeight" : "StaticWeight";
  }
  throw new PlacementError(
    "UNSUPPORTED",
    `unsupported replica scheduling strategy, replicaSchedulingType: ${type}, replicaDivisionPreference: ${scheduling.replicaDivisionPreference ?? ""}`,
  );
}

/** Every candidate runs the full count. */
export function duplicated(candidates: string[], replicas: number): Seats {
  return Object.fromEntries(candidates.map((name) => [name, replicas]));
}

/**
 * Static weights: a cluster's weight is the largest of the entries whose target matches it; a
 * cluster no entry matches gets nothing, unless no cluster matches any entry, when all weigh 1.
 * Stateless: the previous assignment plays no part.
 */
export function staticWeight(
  candidates: ClusterInfo[],
  weights: StaticWeight[] | undefined,
  replicas: number,
  uid = "",
): Seats {
  const votes: Record<string, number> = {};
  for (const cluster of candidates) {
    const weight = Math.max(
      0,
      ...(weights ?? []).filter((w) => clusterMatches(cluster, w.targetCluster)).map((w) => w.weight),
    );
    if (weight > 0) votes[cluster.name] = weight;
  }
  if (Object.keys(votes).length === 0) for (const cluster of candidates) votes[cluster.name] = 1;
  return allocateWebsterSeats(replicas, votes, {}, tieBreakerForUid(uid)) ?? {};
}

/** Webster over weights from zero, with the workload's tie-break: DispenseReplicasByTargetClusters. */
export function divideByWeights(weights: Record<string, number>, replicas: number, uid = ""): Seats {
  return allocateWebsterSeats(replicas, weights, {}, tieBreakerForUid(uid)) ?? {};
}

/** Adds seats to a previous assignment by weight: the dispenser's AllocateByWeight. */
export function addByWeights(
  initial: Seats,
  weights: Record<string, number>,
  replicas: number,
  uid = "",
): Seats {
  return allocateWebsterSeats(replicas, weights, initial, tieBreakerForUid(uid)) ?? {};
}

interface Available {
  name: string;
  replicas: number;
}

const byReplicasDesc = (list: Available[]) => [...list].sort((a, b) => b.replicas - a.replicas);

/**
 * Divides target replicas over clusters by their available replicas (given in order). Aggregated
 * first moves clusters that already run replicas to the front, then keeps the shortest prefix
 * that can hold the target, so the workload stays on as few clusters as possible.
 */
export function divideByAvailable(
  available: Available[],
  target: number,
  aggregated: boolean,
  previous: Seats,
  uid = "",
): Seats {
  const total = available.reduce((sum, c) => sum + c.replicas, 0);
  if (total < target)
    throw new PlacementError(
      "UNSCHEDULABLE",
      `Clusters available replicas ${total} are not enough to schedule.`,
    );
  let chosen = available;
  if (aggregated) {
    const ordered = [
      ...available.filter((c) => (previous[c.name] ?? 0) > 0),
      ...available.filter((c) => !((previous[c.name] ?? 0) > 0)),
    ];
    chosen = [];
    let sum = 0;
    for (const cluster of ordered) {
      if (sum >= target) break;
      chosen.push(cluster);
      sum += cluster.replicas;
    }
  }
  return divideByWeights(Object.fromEntries(chosen.map((c) => [c.name, c.replicas])), target, uid);
}

const without0 = (seats: Seats) => Object.fromEntries(Object.entries(seats).filter(([, n]) => n > 0));

/**
 * Dynamic weight and Aggregated, keeping what is placed (Steady) unless asked to start over
 * (Fresh). Scale-up places only the difference, by free capacity, on top of the previous
 * assignment; scale-down shrinks the previous assignment in proportion; equal keeps it.
 */
export function dynamicScale(
  candidates: Pick<Candidate, "name" | "allocatableReplicas">[],
  previousAssignment: Seats,
  desired: number,
  options: { aggregated: boolean; mode?: "Steady" | "Fresh"; uid?: string; directScaleUp?: boolean },
): Seats {
  const uid = options.uid ?? "";
  const names = new Set(candidates.map((c) => c.name));
  const scheduled = Object.fromEntries(
    Object.entries(previousAssignment).filter(([name, n]) => names.has(name) && n > 0),
  );
  const assigned = Object.values(scheduled).reduce((sum, n) => sum + n, 0);
  if (options.mode === "Fresh") {
    const available = byReplicasDesc(
      candidates.map((c) => ({ name: c.name, replicas: c.allocatableReplicas + (scheduled[c.name] ?? 0) })),
    );
    return without0(divideByAvailable(available, desired, options.aggregated, scheduled, uid));
  }
  if (assigned < desired) {
    const available = byReplicasDesc(
      candidates.map((c) => ({ name: c.name, replicas: c.allocatableReplicas })),
    );
    let added: Seats;
    try {
      added = divideByAvailable(available, desired - assigned, options.aggregated, scheduled, uid);
    } catch (error) {
      if (error instanceof PlacementError && !options.directScaleUp)
        throw new PlacementError(error.code, `failed to scale up: ${error.message}`);
      throw error;
    }
    const result: Seats = { ...scheduled };
    for (const [name, n] of Object.entries(added)) result[name] = (result[name] ?? 0) + n;
    return without0(result);
  }
  if (assigned > desired) {
    const previous = byReplicasDesc(
      Object.entries(scheduled).map(([name, replicas]) => ({ name, replicas })),
    );
    return without0(divideByAvailable(previous, desired, options.aggregated, {}, uid));
  }
  return scheduled;
}

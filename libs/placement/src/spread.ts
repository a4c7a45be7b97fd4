import { strategyOf } from "./division.js";
import { type Candidate, type Placement, PlacementError, type SpreadConstraint } from "./types.js";

type Field = "cluster" | "region" | "zone" | "provider";

/** The scheduler's order: primary tier first, then score, free capacity and name. */
export const candidateOrder = (a: Candidate, b: Candidate) =>
  a.overflowOrder - b.overflowOrder ||
  b.score - a.score ||
  b.availableReplicas - a.availableReplicas ||
  (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Candidates in the scheduler's order. */
export function orderCandidates(candidates: Candidate[]): Candidate[] {
  return [...candidates].sort(candidateOrder);
}

/**
 * Keeps an ordered list in order as some of its candidates are replaced: each old one leaves and
 * its replacement goes where the order puts it. A batch's templates share one ordered list, and
 * each decision changes only the few clusters it placed replicas on.
 */
export function reorderCandidates(ordered: Candidate[], replaced: [Candidate, Candidate][]): void {
  for (const [old, made] of replaced) {
    ordered.splice(ordered.indexOf(old), 1);
    let low = 0;
    let high = ordered.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (candidateOrder(ordered[middle]!, made) < 0) low = middle + 1;
      else high = middle;
    }
    ordered.splice(low, 0, made);
  }
}

/**
 * How well a group (a region, zone, provider) can take the workload, for choosing groups.
 * Duplicated: clusters that can each run every replica count, then their mean score. Divided: the
 * replicas its best clusters can take towards this group's share, then their mean score.
 */
export function groupScore(
  clusters: Pick<Candidate, "score" | "availableReplicas">[],
  options: { duplicated: boolean; replicas: number; minGroups: number; clusterMinGroups: number },
): number {
  if (options.duplicated) {
    const valid = clusters.filter((c) => c.availableReplicas >= options.replicas);
    if (valid.length === 0) return 0;
    return valid.length * 1000 + Math.trunc(valid.reduce((s, c) => s + c.score, 0) / valid.length);
  }
  const target = Math.ceil(options.replicas / Math.max(1, options.minGroups));
  const needed = Math.max(options.clusterMinGroups, options.minGroups);
  let available = 0;
  let score = 0;
  let count = 0;
  for (const cluster of clusters) {
    available += cluster.availableReplicas;
    score += cluster.score;
    count += 1;
    if (count >= needed && available >= target) break;
  }
  if (available < target) {
    const all = clusters.reduce((s, c) => s + c.score, 0);
    return available * 1000 + Math.trunc(all / Math.max(1, clusters.length));
  }
  return target * 1000 + Math.trunc(score / count);
}

export interface Group {
  name: string;
  /** How many clusters it has. */
  value: number;
  /** Its group score. */
  weight: number;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order clusters fill a spread's remaining places in: score, free capacity, name. */
const byScore = (a: Candidate, b: Candidate) =>
  b.score - a.score || b.availableReplicas - a.availableReplicas || byName(a.name, b.name);

/**
 * The first `count` items of `items` in `order`, as sorting them would give. A spread fills a few
 * places from hundreds of clusters per binding: keeping the best few in one pass beats a sort.
 */
export function best<T>(items: T[], count: number, order: (a: T, b: T) => number): T[] {
  if (count <= 0) return [];
  if (count > 32) return [...items].sort(order).slice(0, count);
  const top: T[] = [];
  for (const item of items) {
    if (top.length === count) {
      if (order(item, top[count - 1]!) >= 0) continue;
      top.pop();
    }
    let at = top.length;
    top.push(item);
    while (at > 0 && order(top[at - 1]!, item) > 0) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = item;
  }
  return top;
}

/**
 * Picks between minGroups and maxGroups groups holding at least target clusters: every
 * combination (no deeper than the first feasible point of a path) is ranked by total score, then
 * total clusters, then the order it was found in; a feasible subset of the winner wins instead.
 */
export function selectGroups(
  groups: Group[],
  minGroups: number,
  maxGroups: number,
  target: number,
): Group[] | undefined {
  const sorted = [...groups].sort(
    (a, b) => a.value - b.value || b.weight - a.weight || byName(a.name, b.name),
  );
  const paths: Group[][] = [];
  const walk = (start: number, path: Group[], value: number) => {
    for (let i = start; i < sorted.length; i++) {
      const next = [...path, sorted[i]!];
      if (next.length > maxGroups) continue;
      const total = value + sorted[i]!.value;
      if (total >= target && next.length >= minGroups) paths.push(next);
      else walk(i + 1, next, total);
    }
  };
  walk(0, [], 0);
  if (paths.length === 0) return undefined;
  const sum = (path: Group[], key: "value" | "weight") => path.reduce((s, g) => s + g[key], 0);
  const ranked = paths
    .map((path, id) => ({ path, id }))
    .sort(
      (a, b) =>
        sum(b.path, "weight") - sum(a.path, "weight") ||
        sum(b.path, "value") - sum(a.path, "value") ||
        a.id - b.id,
    )
    .map(({ path }) => [...path].sort((a, b) => b.weight - a.weight || byName(a.name, b.name)));
  let best = ranked[0]!;
  for (const path of ranked.slice(1)) {
    if (path.length < best.length && path.every((g, i) => g.name === best[i]!.name)) best = path;
  }
  return best;
}

/**
 * Values of a field for a cluster; a multi-zone cluster belongs to each of its zones. A region or
 * provider is a single value, not wrapped in a list: this runs for every feasible cluster of
 * every binding a topology spread places.
 */
function groupKeys(
  cluster: Candidate,
  field: Exclude<Field, "cluster">,
): string | readonly string[] | undefined {
  if (field === "zone") return cluster.zones;
  return (field === "region" ? cluster.region : cluster.provider) || undefined;
}

function constraintFor(constraints: SpreadConstraint[], field: Field): SpreadConstraint | undefined {
  return constraints.find((c) => (c.spreadByField ?? (c.spreadByLabel ? undefined : "cluster")) === field);
}

/** Clusters by cluster count alone: the first maxGroups, swapping in capacity if they fall short. */
function selectByCluster(
  ordered: Candidate[],
  constraint: SpreadConstraint,
  needReplicas: number,
): Candidate[] {
  const minGroups = constraint.minGroups ?? 1;
  if (ordered.length < minGroups)
    throw new PlacementError(
      "SPREAD",
      "the number of feasible clusters is less than spreadConstraint.MinGroups",
    );
  const needCount = Math.min(ordered.length, constraint.maxGroups ?? ordered.length);
  const selected = ordered.slice(0, needCount);
  const total = () => selected.reduce((s, c) => s + c.availableReplicas, 0);
  if (needReplicas < 0 || total() >= needReplicas) return selected;
  // Only a selection short of capacity looks at the rest of the fleet.
  const rest = ordered.slice(needCount);
  for (let i = selected.length - 1; i >= 0 && total() < needReplicas; i--) {
    let bestIndex = -1;
    for (let j = 0; j < rest.length; j++)
      if (
        rest[j]!.availableReplicas > selected[i]!.availableReplicas &&
        (bestIndex < 0 || rest[j]!.availableReplicas > rest[bestIndex]!.availableReplicas)
      )
        bestIndex = j;
    if (bestIndex >= 0) [selected[i], rest[bestIndex]] = [rest[bestIndex]!, selected[i]!];
  }
  if (total() < needReplicas)
    throw new PlacementError("SPREAD", `no enough resource when selecting ${needCount} clusters`);
  return selected;
}

/** A topology group (a region, zone, provider or label value), its clusters in order, and its score. */
export interface ScoredGroup {
  name: string;
  score: number;
  clusters: Candidate[];
}

/**
 * Clusters from scored groups: choose the groups, take the best cluster of each, then fill up to
 * the cluster constraint's maximum from the rest of those groups by score.
 */
export function selectFromGroups(
  groups: ScoredGroup[],
  groupConstraint: SpreadConstraint,
  clusterConstraint: SpreadConstraint | undefined,
  what: string,
): Candidate[] {
  const minGroups = groupConstraint.minGroups ?? 1;
  if (groups.length < minGroups)
    throw new PlacementError(
      "SPREAD",
      `the number of feasible ${what} groups is less than spreadConstraint.MinGroups`,
    );
  const clusterMin = clusterConstraint?.minGroups ?? 1;
  const chosen = selectGroups(
    groups.map((g) => ({ name: g.name, value: g.clusters.length, weight: g.score })),
    minGroups,
    groupConstraint.maxGroups ?? groups.length,
    clusterMin,
  );
  if (!chosen)
    throw new PlacementError("SPREAD", `no combination of ${what} groups satisfies the spread constraints`);
  const members = new Map(groups.map((g) => [g.name, g.clusters]));
  const selected: Candidate[] = [];
  for (const group of chosen) {
    const best = members.get(group.name)!.find((c) => !selected.includes(c));
    if (best) selected.push(best);
  }
  // The chosen groups' other clusters, each once (a multi-zone cluster is in several groups).
  const taken = new Set(selected);
  const pool: Candidate[] = [];
  for (const group of chosen)
    for (const cluster of members.get(group.name)!)
      if (!taken.has(cluster)) {
        taken.add(cluster);
        pool.push(cluster);
      }
  const limit = Math.min(
    selected.length + pool.length,
    clusterConstraint?.maxGroups ?? Number.MAX_SAFE_INTEGER,
  );
  selected.push(...best(pool, limit - selected.length, byScore));
  if (selected.length < clusterMin)
    throw new PlacementError(
      "SPREAD",
      `the chosen ${what} groups hold fewer clusters than spreadConstraint.MinGroups`,
    );
  return selected;
}

/** Groups clusters (in order) by a topology constraint and scores each group. */
export function scoreGroups(
  ordered: Candidate[],
  groupConstraint: SpreadConstraint,
  clusterConstraint: SpreadConstraint | undefined,
  options: { duplicated: boolean; replicas: number; labelsOf?: (name: string) => Record<string, string> },
): ScoredGroup[] {
  const members = new Map<string, Candidate[]>();
  const label = groupConstraint.spreadByLabel;
  const field = (groupConstraint.spreadByField ?? "zone") as Exclude<Field, "cluster">;
  const join = (key: string, cluster: Candidate) => {
    const group = members.get(key);
    if (group) group.push(cluster);
    else members.set(key, [cluster]);
  };
  for (const cluster of ordered) {
    const keys = label !== undefined ? options.labelsOf?.(cluster.name)[label] : groupKeys(cluster, field);
    if (typeof keys === "string") join(keys, cluster);
    else if (keys) for (const key of keys) join(key, cluster);
  }
  const minGroups = groupConstraint.minGroups ?? 1;
  const clusterMinGroups = clusterConstraint?.minGroups ?? 1;
  return [...members].map(([name, clusters]) => ({
    name,
    clusters,
    score: groupScore(clusters, {
      duplicated: options.duplicated,
      replicas: options.replicas,
      minGroups,
      clusterMinGroups,
    }),
  }));
}

/** Whether a placement's replica division ignores topology: static weights (Weighted, no dynamic). */
function staticallyWeighted(placement: Placement): boolean {
  const s = placement.replicaScheduling;
  return (
    s?.replicaSchedulingType === "Divided" &&
    s.replicaDivisionPreference === "Weighted" &&
    !s.weightPreference?.dynamicWeight
  );
}

/**
 * Chooses the clusters a workload goes to among the feasible ones. Cluster and region spread
 * work as in Karmada; zone, provider and spreadByLabel constraints select groups the same way
 * (Karmada only filters on them). needReplicas is -1 for Duplicated workloads.
 */
export function selectClusters(
  candidates: Candidate[],
  placement: Placement,
  replicas: number,
  labelsOf?: (name: string) => Record<string, string>,
): Candidate[] {
  return selectOrdered(orderCandidates(candidates), placement, replicas, labelsOf);
}

/** selectClusters for candidates already in the scheduler's order (see orderCandidates). */
export function selectOrdered(
  ordered: Candidate[],
  placement: Placement,
  replicas: number,
  labelsOf?: (name: string) => Record<string, string>,
): Candidate[] {
  const constraints = placement.spreadConstraints ?? [];
  // A copy: the ordered list may be one a batch shares.
  if (constraints.length === 0 || staticallyWeighted(placement)) return [...ordered];
  const duplicated = strategyOf(placement.replicaScheduling) === "Duplicated";
  const needReplicas = duplicated ? -1 : replicas;
  const clusterConstraint = constraintFor(constraints, "cluster");
  const topology = constraints.find((c) => c !== clusterConstraint);
  if (!topology) return selectByCluster(ordered, clusterConstraint!, needReplicas);
  const groups = scoreGroups(ordered, topology, clusterConstraint, {
    duplicated,
    replicas,
    ...(labelsOf ? { labelsOf } : {}),
  });
  const what = topology.spreadByLabel
    ? `label ${topology.spreadByLabel}`
    : (topology.spreadByField ?? "zone");
  return selectFromGroups(groups, topology, clusterConstraint, what);
}

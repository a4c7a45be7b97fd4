import { BUILTIN_RESOURCE_TYPES, podRequests } from "@atoll/kube";
import { AFFINITY_MISMATCH, affinityMatcher, overflowOrderOf } from "./affinity.js";
import { assignReplicas, type TargetCluster } from "./assign.js";
import { strategyOf } from "./division.js";
import type { TemplateDoc } from "./policy.js";
import { reject } from "./rejections.js";
import { orderCandidates, reorderCandidates, selectOrdered } from "./spread.js";
import { taintFilter } from "./taints.js";
import {
  type Candidate,
  type ClusterAffinityTerm,
  type ClusterInfo,
  type Placement,
  PlacementError,
  type Rejections,
  type ScheduledRejections,
} from "./types.js";

export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}

/** A member cluster as the scheduler sees it, from the registry and its last heartbeat. */
export interface ClusterState extends ClusterInfo {
  /** "group/version/resource" of every served resource; undefined when not yet reported. */
  enabledApis?: string[];
  allocatable?: Resources;
  allocated?: Resources;
  allocating?: Resources;
}

export interface ScheduleInput {
  template: TemplateDoc;
  placement: Placement;
  clusters: ClusterState[];
  /** The binding's uid, for the stable tie-break. */
  uid: string;
  previous?: { clusters: TargetCluster[]; observedAffinityName?: string };
  /** Clusters the workload is being evicted from; they are not candidates. */
  evicting?: string[];
  /** Start from scratch instead of keeping what runs (Karmada's Fresh mode). */
  fresh?: boolean;
  /** Filter verdicts shared by the templates of one batch; see FilterMemo. */
  memo?: FilterMemo;
}

/** A filter's verdict on a cluster that failed it. */
interface Rejection {
  plugin: FilterPlugin;
  /** As Karmada's FitError words it. */
  reason: string;
  /** "<plugin>: <reason>", as the binding records it. */
  recorded: string;
}

/**
 * Filter verdicts kept across the templates of one batch. Templates under one placement ask the
 * same questions of the same clusters: only their resource and the clusters each already runs on
 * or is leaving change an answer, so the verdicts for a template that runs nowhere yet are worked
 * out once per placement, term and resource, and a template's own clusters are filtered afresh.
 * Valid while the clusters keep every property but capacity (which no filter reads): one batch.
 */
export class FilterMemo {
  readonly verdicts = new WeakMap<ClusterState[], Map<Placement, Map<string, (Rejection | undefined)[]>>>();
  /** What the verdicts come to for a template that runs nowhere: the same for each such template. */
  readonly tallies = new WeakMap<(Rejection | undefined)[], Tally>();
}

/**
 * Verdicts summed up for a template that runs nowhere: which clusters (by index) pass, and the
 * rejections of the others. With the candidates each feasible cluster makes per kind of replica
 * (requests), rebuilt only for a cluster whose state changed since (replicas assumed on it).
 */
interface Tally {
  feasible: number[];
  rejected: Rejections;
  policyRejected: string[];
  reasons: string[];
  candidates: Map<
    string,
    { from: ClusterState[]; list: CandidateWithLabels[]; ordered: CandidateWithLabels[] | undefined }
  >;
  /** The feasible clusters' names, made the first time a spread leaves some of them out. */
  names?: readonly string[];
}

type CandidateWithLabels = Candidate & { labels?: Record<string, string> };

export interface ScheduleResult {
  clusters: TargetCluster[];
  /** The clusterAffinities term that placed the workload. */
  observedAffinityName?: string;
  /** Why the clusters that were not chosen were left out, "<plugin>: <reason>" for a filter's. */
  rejected: ScheduledRejections;
}

const MAX_REPLICAS = 2 ** 31 - 1;

/** Replicas of a workload template; 0 for objects that are not workloads. */
export function templateReplicas(template: TemplateDoc): number {
  switch (template.kind) {
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      return Number(template.spec?.replicas ?? 1);
    case "Job":
      return Number(template.spec?.parallelism ?? 1);
    case "Pod":
      return 1;
    default:
      return 0;
  }
}

/** What one replica asks for: the sum of its containers' requests, and one pod. */
export function replicaRequests(template: TemplateDoc): Resources | undefined {
  const podSpec = template.kind === "Pod" ? template.spec : template.spec?.template?.spec;
  return podSpec ? podRequests(podSpec) : undefined;
}

/**
 * Free replicas on a cluster by Karmada's general estimator: pods left, and for each requested
 * resource how many replicas fit in what is neither allocated nor being allocated.
 */
export function estimateReplicas(cluster: ClusterState, requests: Resources | undefined): number {
  const { allocatable, allocated, allocating } = cluster;
  if (!allocatable) return 0;
  // Called for every feasible cluster of every binding: plain arithmetic, no closures.
  let replicas = Math.max(0, allocatable.pods - (allocated?.pods ?? 0) - (allocating?.pods ?? 0));
  if (requests?.cpuMillis) {
    const cpu = allocatable.cpuMillis - (allocated?.cpuMillis ?? 0) - (allocating?.cpuMillis ?? 0);
    replicas = Math.min(replicas, Math.floor(Math.max(0, cpu) / requests.cpuMillis));
  }
  if (requests?.memoryBytes) {
    const memory = allocatable.memoryBytes - (allocated?.memoryBytes ?? 0) - (allocating?.memoryBytes ?? 0);
    replicas = Math.min(replicas, Math.floor(Math.max(0, memory) / requests.memoryBytes));
  }
  return replicas;
}

/**
 * A cluster as it will be once replicas just placed there start: their requests count as
 * allocating. Scheduling decisions made before the next heartbeat see the capacity already
 * taken, instead of all piling onto the cluster that looked emptiest (Karmada's #6518, #4708).
 */
export function assumeReplicas(cluster: ClusterState, requests: Resources, replicas: number): ClusterState {
  if (replicas <= 0 || !cluster.allocatable) return cluster;
  const allocating = cluster.allocating ?? { cpuMillis: 0, memoryBytes: 0, pods: 0 };
  return {
    ...cluster,
    allocating: {
      cpuMillis: allocating.cpuMillis + requests.cpuMillis * replicas,
      memoryBytes: allocating.memoryBytes + requests.memoryBytes * replicas,
      pods: allocating.pods + requests.pods * replicas,
    },
  };
}

function resourceOf(template: TemplateDoc): string {
  const [group, version] = template.apiVersion.includes("/")
    ? template.apiVersion.split("/")
    : ["", template.apiVersion];
  const builtin = BUILTIN_RESOURCE_TYPES.find((t) => t.group === group && t.kind === template.kind);
  const resource = builtin?.resource ?? `${template.kind.toLowerCase()}s`;
  return group ? `${group}/${version}/${resource}` : `${version}/${resource}`;
}

/** What every filter reads of one scheduling pass, worked out once rather than per cluster. */
interface FilterPass {
  input: ScheduleInput;
  term: Placement;
  termName: string | undefined;
  /** Clusters the workload runs on now. */
  scheduled: Set<string>;
}

/**
 * A filter plugin, named as in Karmada's scheduler framework; a cluster it rejects is reported with
 * its name. `fromPolicy` marks the ones whose rejection comes from the policy or the cluster's own
 * properties: only when every cluster of the previous result fails one of those may a failed
 * scheduling clear the result (Karmada's FitError); any other failure keeps it. `prepare` does
 * a pass's work once (a selector made into a test, the template's resource) and returns the
 * test each cluster goes through: a fleet has thousands of clusters for one template.
 */
interface FilterPlugin {
  name: string;
  fromPolicy: boolean;
  prepare(pass: FilterPass): (cluster: ClusterState) => string | undefined;
}

/** The filter plugins, in a fixed order so the reason reported for a cluster is stable. */
const FILTERS: FilterPlugin[] = [
  // Karmada's ClusterEviction: clusters the taint manager is evicting the workload from.
  {
    name: "ClusterEviction",
    fromPolicy: true,
    prepare: ({ input }) => {
      const evicting = new Set(input.evicting ?? []);
      return (cluster) =>
        evicting.has(cluster.name) ? "cluster(s) is in the process of eviction" : undefined;
    },
  },
  {
    name: "APIEnablement",
    fromPolicy: false,
    prepare: ({ input, scheduled }) => {
      const resource = resourceOf(input.template);
      return (cluster) =>
        scheduled.has(cluster.name) || !cluster.enabledApis || cluster.enabledApis.includes(resource)
          ? undefined
          : "cluster(s) did not have the API resource";
    },
  },
  // NoExecute taints only keep new placements away here; moving a workload off a cluster is the
  // taint manager's job, and only when the hub is configured to evict.
  {
    name: "TaintToleration",
    fromPolicy: false,
    prepare: ({ term, scheduled }) => {
      const tolerations = term.clusterTolerations ?? [];
      return (cluster) => {
        if (!cluster.taints?.length || scheduled.has(cluster.name)) return undefined;
        const result = taintFilter(cluster, tolerations);
        return result.code === "Success" ? undefined : result.reason;
      };
    },
  },
  {
    name: "ClusterAffinity",
    fromPolicy: true,
    prepare: ({ term, termName }) => {
      const matches = affinityMatcher(term, termName);
      return (cluster) => (matches(cluster) ? undefined : AFFINITY_MISMATCH);
    },
  },
  {
    name: "SpreadConstraint",
    fromPolicy: true,
    prepare: ({ term }) => {
      const constraints = term.spreadConstraints ?? [];
      return (cluster) => {
        for (const c of constraints) {
          if (c.spreadByField === "provider" && !cluster.provider)
            return "cluster(s) did not have provider property";
          if (c.spreadByField === "region" && !cluster.region)
            return "cluster(s) did not have region property";
          if (c.spreadByField === "zone" && !cluster.zones?.length)
            return "cluster(s) did not have zones property";
          if (c.spreadByLabel && cluster.labels?.[c.spreadByLabel] === undefined)
            return `cluster(s) did not have the label ${c.spreadByLabel}`;
        }
        return undefined;
      };
    },
  },
];

/** A map's value for a key, made and kept the first time it is asked for. */
function entry<K, V>(
  map: { get(key: K): V | undefined; set(key: K, value: V): unknown },
  key: K,
  make: () => V,
): V {
  const found = map.get(key);
  if (found !== undefined) return found;
  const made = make();
  map.set(key, made);
  return made;
}

/** Each filter made ready for one pass, in order. */
function prepareFilters(
  pass: FilterPass,
): { plugin: FilterPlugin; test: (cluster: ClusterState) => string | undefined }[] {
  return FILTERS.map((plugin) => ({ plugin, test: plugin.prepare(pass) }));
}

/** The first filter a cluster fails, if any; verdicts with the same words are one object. */
function verdictOf(
  filters: ReturnType<typeof prepareFilters>,
): (cluster: ClusterState) => Rejection | undefined {
  const seen = new Map<string, Rejection>();
  return (cluster) => {
    for (const { plugin, test } of filters) {
      const reason = test(cluster);
      if (!reason) continue;
      const recorded = `${plugin.name}: ${reason}`;
      return entry(seen, recorded, () => ({ plugin, reason, recorded }));
    }
    return undefined;
  };
}

/** Verdicts on every cluster for a template that runs nowhere and leaves nowhere, memoized. */
function freshVerdicts(
  input: ScheduleInput,
  term: Placement,
  termName: string | undefined,
): (Rejection | undefined)[] {
  const compute = () => {
    const pass = { input: { ...input, evicting: [] }, term, termName, scheduled: new Set<string>() };
    return input.clusters.map(verdictOf(prepareFilters(pass)));
  };
  if (!input.memo) return compute();
  const key = `${termName ?? ""}\u0000${resourceOf(input.template)}`;
  const byPlacement = entry(input.memo.verdicts, input.clusters, () => new Map());
  return entry(
    entry(byPlacement, term, () => new Map()),
    key,
    compute,
  );
}

/** Which clusters pass and why the others do not, from each cluster's verdict. */
function tallyVerdicts(
  clusters: ClusterState[],
  verdictAt: (cluster: ClusterState, index: number) => Rejection | undefined,
): Tally {
  const tally: Tally = { feasible: [], rejected: {}, policyRejected: [], reasons: [], candidates: new Map() };
  clusters.forEach((cluster, i) => {
    const rejection = verdictAt(cluster, i);
    if (!rejection) {
      tally.feasible.push(i);
      return;
    }
    if (rejection.plugin.fromPolicy) tally.policyRejected.push(cluster.name);
    reject(tally.rejected, rejection.recorded, cluster.name);
    tally.reasons.push(rejection.reason);
  });
  // Handed to every binding the tally decides, rather than copied for each.
  for (const clusters of Object.values(tally.rejected)) Object.freeze(clusters);
  return tally;
}

/** Most candidates mended into a shared order one by one; with more, sorting is cheaper. */
const MENDED_AT_MOST = 32;

/** One replica's requests as a key: templates asking the same share candidates. */
const requestsKey = (requests: Resources | undefined) =>
  requests ? `${requests.cpuMillis}/${requests.memoryBytes}/${requests.pods}` : "";

/**
 * Whether a failed scheduling may clear the previous result. Karmada clears it on a FitError; Atoll
 * only when no cluster fits and every cluster the workload runs on was rejected by the policy or by
 * its own labels and properties (or is being evicted). A spread constraint that cannot be met, too
 * little capacity, or any other failure keeps the workload where it runs.
 */
export function failureClearsResult(error: PlacementError, previous: string[]): boolean {
  if (error.code !== "NO_CLUSTERS" || previous.length === 0) return false;
  return previous.every((name) => error.policyRejected?.includes(name) ?? false);
}

/** One pass of the pipeline for one affinity term: filter, score, select, assign. */
function scheduleOnce(input: ScheduleInput, term: Placement, termName: string | undefined): ScheduleResult {
  const scheduled = new Set((input.previous?.clusters ?? []).map((c) => c.name));
  const own = new Set([...scheduled, ...(input.evicting ?? [])]);
  const verdicts = freshVerdicts(input, term, termName);
  const live = own.size ? verdictOf(prepareFilters({ input, term, termName, scheduled })) : undefined;
  // A template that runs nowhere shares its batch-mates' tally; one that runs somewhere has its own.
  const freshTally = () => tallyVerdicts(input.clusters, (_, i) => verdicts[i]);
  const tally = live
    ? tallyVerdicts(input.clusters, (cluster, i) => (own.has(cluster.name) ? live(cluster) : verdicts[i]))
    : input.memo
      ? entry(input.memo.tallies, verdicts, freshTally)
      : freshTally();
  // The feasible clusters by index: a template sharing its batch-mates' tally lists them only
  // when it needs them as a list, not for each decision.
  const feasibleIndex = tally.feasible;
  const clusterAt = (i: number) => input.clusters[feasibleIndex[i]!]!;
  const feasibleList = () => feasibleIndex.map((i) => input.clusters[i]!);
  const { reasons, policyRejected } = tally;
  const rejected: ScheduledRejections = { ...tally.rejected };
  if (feasibleIndex.length === 0) {
    // The summary counts reasons as Karmada's FitError words them; each cluster's carries its plugin.
    const counts = new Map<string, number>();
    for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    const summary = [...counts].map(([reason, n]) => `${n} ${reason}`).join(", ");
    throw new PlacementError(
      "NO_CLUSTERS",
      `0/${input.clusters.length} clusters are available: ${summary}.`,
      [...policyRejected],
    );
  }
  const replicas = templateReplicas(input.template);
  const requests = replicaRequests(input.template);
  const previous = Object.fromEntries((input.previous?.clusters ?? []).map((c) => [c.name, c.replicas ?? 0]));
  const observed = term.clusterAffinities?.find((t) => t.affinityName === termName);
  const overflowOf = observed ? overflowOrderOf(observed) : undefined;
  const candidateOf = (cluster: ClusterState): CandidateWithLabels => {
    const free = replicas > 0 ? estimateReplicas(cluster, requests) : MAX_REPLICAS;
    // Every candidate has the same properties, set or not: one object shape for the engine.
    return {
      name: cluster.name,
      labels: cluster.labels ?? {},
      score: scheduled.has(cluster.name) ? 100 : 0,
      allocatableReplicas: free,
      availableReplicas: Math.min(MAX_REPLICAS, free + (input.fresh ? 0 : (previous[cluster.name] ?? 0))),
      overflowOrder: overflowOf ? (overflowOf(cluster) ?? 1000) : 0,
      provider: cluster.provider,
      region: cluster.region,
      zones: cluster.zones,
    };
  };
  // A template that runs nowhere makes the same candidate of a cluster as any other asking as
  // much per replica; each is made again only once the cluster's state changes.
  const shared = live
    ? undefined
    : entry(tally.candidates, `${replicas > 0}/${requestsKey(requests)}`, () => ({
        from: [] as ClusterState[],
        list: [] as CandidateWithLabels[],
        ordered: undefined as CandidateWithLabels[] | undefined,
      }));
  let candidates: CandidateWithLabels[];
  let ordered: CandidateWithLabels[];
  if (shared) {
    // The shared order is kept as it is and mended where candidates changed: sorting the whole
    // fleet again for each template had been the largest cost of a decision.
    const replaced: [CandidateWithLabels, CandidateWithLabels][] = [];
    for (let i = 0; i < feasibleIndex.length; i++) {
      const cluster = clusterAt(i);
      if (shared.from[i] === cluster) continue;
      shared.from[i] = cluster;
      const before = shared.list[i];
      const made = candidateOf(cluster);
      shared.list[i] = made;
      if (before) replaced.push([before, made]);
    }
    if (shared.ordered && replaced.length <= MENDED_AT_MOST) reorderCandidates(shared.ordered, replaced);
    else shared.ordered = orderCandidates(shared.list);
    candidates = shared.list;
    ordered = shared.ordered;
  } else {
    candidates = feasibleList().map(candidateOf);
    ordered = orderCandidates(candidates);
  }
  // Only spreading by label reads labels by name: the map is made the first time it does.
  let labels: Map<string, Record<string, string>> | undefined;
  const labelsOf = (name: string) => {
    labels ??= new Map(feasibleList().map((c) => [c.name, c.labels ?? {}]));
    return labels.get(name) ?? {};
  };
  const selected = selectOrdered(ordered, term, replicas, labelsOf);
  // Most of a fleet is feasible and not selected: the binding names the feasible list it shares
  // with its batch-mates, less the clusters it took.
  if (selected.length < candidates.length) {
    tally.names ??= Object.freeze(feasibleList().map((c) => c.name));
    rejected["not selected under the spread constraints"] = {
      of: tally.names,
      less: selected.map((c) => c.name),
    };
  }
  const clusters = assignReplicas({
    placement: term,
    clusters: selected,
    replicas,
    workload: replicas > 0,
    previousAssignment: input.fresh ? {} : previous,
    uid: input.uid,
    mode: input.fresh ? "Fresh" : "Steady",
    ...(termName ? { observedAffinityName: termName } : {}),
  });
  const assigned = new Set(clusters.map((t) => t.name));
  const unassigned = selected.filter((c) => !assigned.has(c.name)).map((c) => c.name);
  if (unassigned.length) rejected["assigned no replicas"] = unassigned;
  return { clusters, ...(termName ? { observedAffinityName: termName } : {}), rejected };
}

/**
 * Where a template goes under a placement. With ordered clusterAffinities, scheduling starts at
 * the term that placed it last and moves to the next term on failure, as Karmada does; the first
 * failure is reported if every term fails.
 */
export function scheduleBinding(input: ScheduleInput): ScheduleResult {
  strategyOf(input.placement.replicaScheduling);
  const terms: (ClusterAffinityTerm | undefined)[] = input.placement.clusterAffinities?.length
    ? input.placement.clusterAffinities
    : [undefined];
  const start = Math.max(
    0,
    terms.findIndex((t) => t?.affinityName === input.previous?.observedAffinityName),
  );
  let firstError: Error | undefined;
  for (const term of terms.slice(start)) {
    try {
      return scheduleOnce(input, input.placement, term?.affinityName);
    } catch (error) {
      if (!(error instanceof PlacementError)) throw error;
      firstError ??= error;
    }
  }
  throw firstError!;
}

import { BUILTIN_RESOURCE_TYPES, podRequests } from "@atoll/kube";
import { affinityFilter, overflowOrder } from "./affinity.js";
import { assignReplicas, type TargetCluster } from "./assign.js";
import { strategyOf } from "./division.js";
import type { TemplateDoc } from "./policy.js";
import { selectClusters } from "./spread.js";
import { taintFilter } from "./taints.js";
import {
  type Candidate,
  type ClusterAffinityTerm,
  type ClusterInfo,
  type Placement,
  PlacementError,
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
}

export interface ScheduleResult {
  clusters: TargetCluster[];
  /** The clusterAffinities term that placed the workload. */
  observedAffinityName?: string;
  /** Why each cluster that was not chosen was filtered out: "<plugin>: <reason>". */
  rejected: Record<string, string>;
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
  if (!cluster.allocatable) return 0;
  const free = (key: keyof Resources) =>
    Math.max(
      0,
      cluster.allocatable![key] - (cluster.allocated?.[key] ?? 0) - (cluster.allocating?.[key] ?? 0),
    );
  let replicas = free("pods");
  if (requests?.cpuMillis) replicas = Math.min(replicas, Math.floor(free("cpuMillis") / requests.cpuMillis));
  if (requests?.memoryBytes)
    replicas = Math.min(replicas, Math.floor(free("memoryBytes") / requests.memoryBytes));
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

type Filter = (
  cluster: ClusterState,
  input: ScheduleInput,
  term: Placement,
  termName?: string,
) => string | undefined;

const scheduledOn = (input: ScheduleInput, name: string) =>
  input.previous?.clusters.some((c) => c.name === name) ?? false;

/**
 * A filter plugin, named as in Karmada's scheduler framework; a cluster it rejects is reported with
 * its name. `fromPolicy` marks the ones whose rejection comes from the policy or the cluster's own
 * properties: only when every cluster of the previous result fails one of those may a failed
 * scheduling clear the result (Karmada's FitError); any other failure keeps it.
 */
interface FilterPlugin {
  name: string;
  fromPolicy: boolean;
  filter: Filter;
}

/** The filter plugins, in a fixed order so the reason reported for a cluster is stable. */
const FILTERS: FilterPlugin[] = [
  // Karmada's ClusterEviction: clusters the taint manager is evicting the workload from.
  {
    name: "ClusterEviction",
    fromPolicy: true,
    filter: (cluster, input) =>
      input.evicting?.includes(cluster.name) ? "cluster(s) is in the process of eviction" : undefined,
  },
  {
    name: "APIEnablement",
    fromPolicy: false,
    filter: (cluster, input) => {
      if (scheduledOn(input, cluster.name) || !cluster.enabledApis) return undefined;
      return cluster.enabledApis.includes(resourceOf(input.template))
        ? undefined
        : "cluster(s) did not have the API resource";
    },
  },
  // NoExecute taints only keep new placements away here; moving a workload off a cluster is the
  // taint manager's job, and only when the hub is configured to evict.
  {
    name: "TaintToleration",
    fromPolicy: false,
    filter: (cluster, input, term) => {
      const result = taintFilter(
        cluster,
        term.clusterTolerations ?? [],
        input.previous?.clusters.map((c) => c.name) ?? [],
      );
      return result.code === "Success" ? undefined : result.reason;
    },
  },
  {
    name: "ClusterAffinity",
    fromPolicy: true,
    filter: (cluster, _input, term, termName) => {
      const result = affinityFilter(cluster, term, termName);
      return result.code === "Success" ? undefined : result.reason;
    },
  },
  {
    name: "SpreadConstraint",
    fromPolicy: true,
    filter: (cluster, _input, term) => {
      for (const c of term.spreadConstraints ?? []) {
        if (c.spreadByField === "provider" && !cluster.provider)
          return "cluster(s) did not have provider property";
        if (c.spreadByField === "region" && !cluster.region) return "cluster(s) did not have region property";
        if (c.spreadByField === "zone" && !cluster.zones?.length)
          return "cluster(s) did not have zones property";
        if (c.spreadByLabel && cluster.labels?.[c.spreadByLabel] === undefined)
          return `cluster(s) did not have the label ${c.spreadByLabel}`;
      }
      return undefined;
    },
  },
];

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
  const rejected: Record<string, string> = {};
  const reasons: string[] = [];
  const policyRejected: string[] = [];
  const feasible: ClusterState[] = [];
  for (const cluster of input.clusters) {
    let reason: string | undefined;
    for (const plugin of FILTERS) {
      reason = plugin.filter(cluster, input, term, termName);
      if (!reason) continue;
      if (plugin.fromPolicy) policyRejected.push(cluster.name);
      rejected[cluster.name] = `${plugin.name}: ${reason}`;
      reasons.push(reason);
      break;
    }
    if (!reason) feasible.push(cluster);
  }
  if (feasible.length === 0) {
    // The summary counts reasons as Karmada's FitError words them; each cluster's carries its plugin.
    const counts = new Map<string, number>();
    for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    const summary = [...counts].map(([reason, n]) => `${n} ${reason}`).join(", ");
    throw new PlacementError(
      "NO_CLUSTERS",
      `0/${input.clusters.length} clusters are available: ${summary}.`,
      policyRejected,
    );
  }
  const replicas = templateReplicas(input.template);
  const requests = replicaRequests(input.template);
  const previous = Object.fromEntries((input.previous?.clusters ?? []).map((c) => [c.name, c.replicas ?? 0]));
  const observed = term.clusterAffinities?.find((t) => t.affinityName === termName);
  const candidates: (Candidate & { labels?: Record<string, string> })[] = feasible.map((cluster) => {
    const free = replicas > 0 ? estimateReplicas(cluster, requests) : MAX_REPLICAS;
    return {
      name: cluster.name,
      labels: cluster.labels ?? {},
      score: scheduledOn(input, cluster.name) ? 100 : 0,
      allocatableReplicas: free,
      availableReplicas: Math.min(MAX_REPLICAS, free + (input.fresh ? 0 : (previous[cluster.name] ?? 0))),
      overflowOrder: observed ? (overflowOrder(cluster, observed) ?? 1000) : 0,
      ...(cluster.provider ? { provider: cluster.provider } : {}),
      ...(cluster.region ? { region: cluster.region } : {}),
      ...(cluster.zones ? { zones: cluster.zones } : {}),
    };
  });
  const labels = new Map(feasible.map((c) => [c.name, c.labels ?? {}]));
  const selected = selectClusters(candidates, term, replicas, (name) => labels.get(name) ?? {});
  for (const c of candidates)
    if (!selected.includes(c)) rejected[c.name] = "not selected under the spread constraints";
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
  for (const c of selected)
    if (!clusters.some((t) => t.name === c.name)) rejected[c.name] = "assigned no replicas";
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

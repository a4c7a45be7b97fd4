import { clusterMatches } from "./affinity.js";
import { matchingTolerations, minTolerationTime } from "./taints.js";
import type { ClusterAffinity, ClusterInfo, Taint, Toleration } from "./types.js";

/** Karmada's keys for the taints a cluster's Ready condition puts on it; both are NoSchedule only. */
export const UNREACHABLE_TAINT_KEY = "cluster.karmada.io/unreachable";
export const NOT_READY_TAINT_KEY = "cluster.karmada.io/not-ready";

export type ConditionStatus = "True" | "False" | "Unknown";

export interface ClusterCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** What the hub last heard from a cluster's agent, by the bus's clock. */
export interface ClusterLiveness {
  /** When the last heartbeat reached the bus; undefined when none ever did. */
  lastHeardMs?: number;
  /** Ready nodes in that heartbeat. */
  readyNodes: number;
}

/**
 * The Ready condition as Karmada's cluster controller sets it: Unknown when the agent has been
 * silent past the grace period (or never spoke), False when it speaks but no node is ready.
 */
export function readyCondition(
  name: string,
  liveness: ClusterLiveness | undefined,
  nowMs: number,
  graceMs: number,
): ClusterCondition {
  if (liveness?.lastHeardMs === undefined)
    return {
      type: "Ready",
      status: "Unknown",
      reason: "ClusterStatusNeverUpdated",
      message: `no heartbeat from cluster ${name} has reached the hub yet`,
    };
  if (nowMs - liveness.lastHeardMs > graceMs)
    return {
      type: "Ready",
      status: "Unknown",
      reason: "ClusterStatusUnknown",
      message: `no heartbeat from cluster ${name} since ${new Date(liveness.lastHeardMs).toISOString()}`,
    };
  if (liveness.readyNodes === 0)
    return {
      type: "Ready",
      status: "False",
      reason: "ClusterNotReady",
      message: `cluster ${name} reports no ready node`,
    };
  return { type: "Ready", status: "True", reason: "ClusterReady", message: `cluster ${name} is ready` };
}

/**
 * Karmada's taintClusterByCondition: Unknown adds unreachable, False adds not-ready, True removes
 * both. Since Karmada 1.14 these are NoSchedule: they keep new placements away and move nothing.
 */
export function conditionTaints(taints: Taint[], ready: ClusterCondition): Taint[] {
  const kept = taints.filter((t) => t.key !== UNREACHABLE_TAINT_KEY && t.key !== NOT_READY_TAINT_KEY);
  if (ready.status === "Unknown") kept.push({ key: UNREACHABLE_TAINT_KEY, effect: "NoSchedule" });
  if (ready.status === "False") kept.push({ key: NOT_READY_TAINT_KEY, effect: "NoSchedule" });
  return kept;
}

export interface MatchCondition {
  conditionType: string;
  operator: "In" | "NotIn";
  statusValues: string[];
}

/** Karmada's ClusterTaintPolicy (policy.karmada.io/v1alpha1, cluster-scoped). */
export interface ClusterTaintPolicyDoc {
  apiVersion: string;
  kind: "ClusterTaintPolicy";
  metadata: { name: string; creationTimestamp?: string };
  spec: {
    targetClusters?: ClusterAffinity;
    addOnConditions?: MatchCondition[];
    removeOnConditions?: MatchCondition[];
    taints: { key: string; effect: Taint["effect"]; value?: string }[];
  };
}

/**
 * Whether a cluster's conditions meet every match condition; an empty list never matches, and a
 * condition the cluster does not have matches no operator, as Karmada's controller decides.
 */
export function conditionsMatch(
  conditions: ClusterCondition[],
  match: MatchCondition[] | undefined,
): boolean {
  if (!match?.length) return false;
  return match.every((m) => {
    const condition = conditions.find((c) => c.type === m.conditionType);
    if (!condition) return false;
    if (m.operator === "In") return m.statusValues.includes(condition.status);
    if (m.operator === "NotIn") return !m.statusValues.includes(condition.status);
    return false;
  });
}

/**
 * A cluster's taints after its ClusterTaintPolicies, taken in the order given (creation order):
 * each policy that targets the cluster adds its taints when addOnConditions hold (a taint with the
 * same key and effect is not added twice; new ones carry timeAdded) and removes them when
 * removeOnConditions hold. Taints stay when a policy is deleted, as in Karmada.
 */
export function taintsUnderPolicies(
  cluster: ClusterInfo,
  conditions: ClusterCondition[],
  policies: ClusterTaintPolicyDoc[],
  now: Date,
): Taint[] {
  let taints = [...(cluster.taints ?? [])];
  const same = (a: { key: string; effect: string }, b: { key: string; effect: string }) =>
    a.key === b.key && a.effect === b.effect;
  for (const policy of policies) {
    if (policy.spec.targetClusters && !clusterMatches(cluster, policy.spec.targetClusters)) continue;
    if (conditionsMatch(conditions, policy.spec.addOnConditions))
      for (const taint of policy.spec.taints)
        if (!taints.some((t) => same(t, taint)))
          taints.push({
            key: taint.key,
            ...(taint.value ? { value: taint.value } : {}),
            effect: taint.effect,
            timeAdded: now.toISOString(),
          });
    if (conditionsMatch(conditions, policy.spec.removeOnConditions))
      taints = taints.filter((t) => !policy.spec.taints.some((taint) => same(t, taint)));
  }
  return taints;
}

/**
 * Kubernetes' node lifecycle controller stops evicting in a zone in full disruption, assuming
 * the fault is its own; 0.55 is its --unhealthy-zone-threshold. The hub does the same over the
 * fleet: when that share of clusters has gone silent at once, it evicts nothing.
 */
export const UNHEALTHY_FLEET_THRESHOLD = 0.55;

export interface FleetDisruption {
  disrupted: boolean;
  silent: string[];
  total: number;
  message: string;
}

export function fleetDisruption(
  readiness: { name: string; ready: ClusterCondition }[],
  threshold = UNHEALTHY_FLEET_THRESHOLD,
): FleetDisruption {
  const silent = readiness.filter((c) => c.ready.status === "Unknown").map((c) => c.name);
  const total = readiness.length;
  const disrupted = total > 0 && silent.length / total >= threshold;
  return {
    disrupted,
    silent,
    total,
    message: disrupted
      ? `${silent.length} of ${total} clusters went silent at once, more than ${Math.round(threshold * 100)}%: ` +
        "the hub assumes the fault is its own (its bus, its database or its network) and evicts nothing until they report again"
      : "",
  };
}

/** Karmada's gracefulEvictionTask: a cluster a workload is leaving, and how it leaves. */
export interface EvictionTask {
  fromCluster: string;
  purgeMode: "Gracefully" | "Directly";
  replicas?: number;
  reason: string;
  message: string;
  createdAt: string;
  gracePeriodSeconds?: number;
}

/**
 * What the taint manager does for one binding: for each cluster in its result that carries
 * NoExecute taints, the time until they evict it under the placement's tolerations. Returns the
 * clusters due now, and how long until the next one is due (-1 when none will be).
 */
export function evictionsDue(
  targets: string[],
  clusters: ClusterInfo[],
  tolerations: Toleration[],
  now: Date,
): { due: string[]; nextInMs: number } {
  const due: string[] = [];
  let nextInMs = -1;
  for (const name of targets) {
    const noExecute = (clusters.find((c) => c.name === name)?.taints ?? []).filter(
      (t) => t.effect === "NoExecute",
    );
    if (noExecute.length === 0) continue;
    const { allTolerated, used } = matchingTolerations(noExecute, tolerations);
    const wait = allTolerated ? minTolerationTime(noExecute, used, now) : 0;
    if (wait === 0) due.push(name);
    else if (wait > 0 && (nextInMs < 0 || wait < nextInMs)) nextInMs = wait;
  }
  return { due, nextInMs };
}

/** Karmada's --graceful-eviction-timeout: how long an evicted copy waits at most. */
export const DEFAULT_EVICTION_GRACE_SECONDS = 600;

/**
 * The graceful eviction controller's verdict: a Gracefully task ends once every cluster of the
 * new result runs the workload healthily, or when its grace period has passed; a Directly task
 * ends at once. The tasks that remain keep their old copy where it is.
 */
export function assessEvictionTasks(
  tasks: EvictionTask[],
  placedOn: string[],
  healthyOn: (cluster: string) => boolean,
  now: Date,
  defaultGraceSeconds = DEFAULT_EVICTION_GRACE_SECONDS,
): { remaining: EvictionTask[]; ended: EvictionTask[] } {
  const remaining: EvictionTask[] = [];
  const ended: EvictionTask[] = [];
  const newHome = placedOn.filter((c) => !tasks.some((t) => t.fromCluster === c));
  const settled = newHome.length > 0 && newHome.every(healthyOn);
  for (const task of tasks) {
    const grace = (task.gracePeriodSeconds ?? defaultGraceSeconds) * 1000;
    const expired = now.getTime() - Date.parse(task.createdAt) >= grace;
    if (task.purgeMode === "Directly" || expired || settled) ended.push(task);
    else remaining.push(task);
  }
  return { remaining, ended };
}

import type { Taint, Toleration } from "./types.js";

/** Kubernetes' ToleratesTaint: effect, key (or Exists with no key) and value. */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  if (!toleration.key && toleration.operator !== "Exists") return false;
  if (toleration.operator === "Exists") return true;
  return (toleration.value ?? "") === (taint.value ?? "");
}

export type FilterResult = { code: "Success" } | { code: "Unschedulable"; reason: string };

/**
 * The TaintToleration filter: a cluster already running the workload passes (eviction is the
 * taint manager's job); otherwise the first NoSchedule or NoExecute taint no toleration covers
 * rejects it. PreferNoSchedule never rejects.
 */
export function taintFilter(
  cluster: { name?: string; taints?: Taint[] },
  tolerations: Toleration[],
  scheduledClusters: string[] = [],
): FilterResult {
  if (cluster.name && scheduledClusters.includes(cluster.name)) return { code: "Success" };
  const untolerated = (cluster.taints ?? []).find(
    (taint) =>
      (taint.effect === "NoSchedule" || taint.effect === "NoExecute") &&
      !tolerations.some((t) => tolerates(t, taint)),
  );
  return untolerated
    ? {
        code: "Unschedulable",
        reason: `cluster(s) had untolerated taint {${untolerated.key}=${untolerated.value ?? ""}:${untolerated.effect}}`,
      }
    : { code: "Success" };
}

/** Whether every taint is tolerated, and by which tolerations (empty when one is not). */
export function matchingTolerations(
  taints: Taint[],
  tolerations: Toleration[],
): { allTolerated: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const toleration = tolerations.find((t) => tolerates(t, taint));
    if (!toleration) return { allTolerated: false, used: [] };
    used.push(toleration);
  }
  return { allTolerated: true, used };
}

/**
 * How long until NoExecute taints evict a workload, in milliseconds: -1 for never, 0 for now.
 * The shortest tolerationSeconds counts from when each taint was added.
 */
export function minTolerationTime(
  noExecuteTaints: Taint[],
  usedTolerations: Toleration[],
  now: Date,
): number {
  if (noExecuteTaints.length === 0) return -1;
  if (usedTolerations.length === 0) return 0;
  let seconds = -1;
  for (const t of usedTolerations) {
    if (t.tolerationSeconds === null || t.tolerationSeconds === undefined) continue;
    if (t.tolerationSeconds <= 0) return 0;
    if (seconds < 0 || t.tolerationSeconds < seconds) seconds = t.tolerationSeconds;
  }
  if (seconds < 0) return -1;
  let soonest = -1;
  for (const taint of noExecuteTaints) {
    if (!taint.timeAdded) continue;
    const remaining = Math.max(0, Date.parse(taint.timeAdded) + seconds * 1000 - now.getTime());
    if (soonest < 0 || remaining < soonest) soonest = remaining;
  }
  return soonest;
}

import type { ClustersLess, Rejections, ScheduledRejections } from "./types.js";

/** Adds one cluster's rejection. */
export function reject(rejections: Rejections, reason: string, cluster: string): void {
  const clusters = rejections[reason];
  if (clusters) clusters.push(cluster);
  else rejections[reason] = [cluster];
}

/** The clusters one reason rejected, named one by one. */
export function rejectedClusters(clusters: readonly string[] | ClustersLess): string[] {
  if (!("of" in clusters)) return [...clusters];
  const less = new Set(clusters.less);
  return clusters.of.filter((cluster) => !less.has(cluster));
}

/** Rejections with every reason's clusters named one by one. */
export function listRejections(rejections: ScheduledRejections): Rejections {
  const listed: Rejections = {};
  for (const [reason, clusters] of Object.entries(rejections)) listed[reason] = rejectedClusters(clusters);
  return listed;
}

/** Each rejected cluster with its reason, as the API shows a binding. */
export function rejectionsByCluster(rejections: ScheduledRejections): Record<string, string> {
  const byCluster: Record<string, string> = {};
  for (const [reason, clusters] of Object.entries(rejections))
    for (const cluster of rejectedClusters(clusters)) byCluster[cluster] = reason;
  return byCluster;
}

/** The rejections of the clusters `sees` accepts. */
export function rejectionsWithin(rejections: Rejections, sees: (cluster: string) => boolean): Rejections {
  const within: Rejections = {};
  for (const [reason, clusters] of Object.entries(rejections)) {
    const seen = clusters.filter(sees);
    if (seen.length) within[reason] = seen;
  }
  return within;
}

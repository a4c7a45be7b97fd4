import type { Rejections } from "./types.js";

/** Adds one cluster's rejection. */
export function reject(rejections: Rejections, reason: string, cluster: string): void {
  const clusters = rejections[reason];
  if (clusters) clusters.push(cluster);
  else rejections[reason] = [cluster];
}

/** Each rejected cluster with its reason, as the API shows a binding. */
export function rejectionsByCluster(rejections: Rejections): Record<string, string> {
  const byCluster: Record<string, string> = {};
  for (const [reason, clusters] of Object.entries(rejections))
    for (const cluster of clusters) byCluster[cluster] = reason;
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

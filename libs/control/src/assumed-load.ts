import type { Resources } from "@atoll/placement";

interface ClusterLoad {
  /** Placements in the order they were made, which is also the order they expire in. */
  placements: { load: Resources; untilMs: number }[];
  /** The first placement still counted. */
  head: number;
  total: Resources;
}

/**
 * What replicas placed lately ask of each cluster, until its heartbeats can count them. A busy
 * minute makes tens of thousands of placements: the totals are kept as placements come and go,
 * not summed again for every batch.
 */
export class AssumedLoad {
  private readonly clusters = new Map<string, ClusterLoad>();

  constructor(private readonly forMs: number) {}

  /** Counts `replicas` more replicas asking `requests` each against a cluster, from `nowMs`. */
  add(cluster: string, requests: Resources, replicas: number, nowMs: number): void {
    let entry = this.clusters.get(cluster);
    if (!entry) {
      entry = { placements: [], head: 0, total: { cpuMillis: 0, memoryBytes: 0, pods: 0 } };
      this.clusters.set(cluster, entry);
    }
    const load = {
      cpuMillis: requests.cpuMillis * replicas,
      memoryBytes: requests.memoryBytes * replicas,
      pods: requests.pods * replicas,
    };
    entry.placements.push({ load, untilMs: nowMs + this.forMs });
    entry.total.cpuMillis += load.cpuMillis;
    entry.total.memoryBytes += load.memoryBytes;
    entry.total.pods += load.pods;
  }

  /** Stops counting placements older than the assumption lasts. */
  expire(nowMs: number): void {
    for (const [cluster, entry] of this.clusters) {
      const { placements, total } = entry;
      while (entry.head < placements.length && placements[entry.head]!.untilMs <= nowMs) {
        const { load } = placements[entry.head++]!;
        total.cpuMillis -= load.cpuMillis;
        total.memoryBytes -= load.memoryBytes;
        total.pods -= load.pods;
      }
      if (entry.head === placements.length) this.clusters.delete(cluster);
      else if (entry.head > placements.length / 2) {
        placements.splice(0, entry.head);
        entry.head = 0;
      }
    }
  }

  /** What a cluster's recent placements ask of it, or undefined when there are none. */
  of(cluster: string): Resources | undefined {
    return this.clusters.get(cluster)?.total;
  }
}

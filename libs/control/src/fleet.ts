import type { Bus, KvEntry } from "@atoll/bus";
import { heartbeatCodec } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import {
  type ClusterCondition,
  type ClusterInfo,
  type ClusterState,
  conditionTaints,
  type FleetDisruption,
  fleetDisruption,
  readyCondition,
  type Taint,
} from "@atoll/placement";
import { type ClusterRegistryRow, heartbeatToRow } from "@atoll/store";

/** What a heartbeat says of a cluster that placement reads: capacity, served APIs, the agent. */
export interface HeardStatus {
  agentId?: string;
  enabledApis?: string[];
  nodes?: { total: number; ready: number };
  allocatable?: ClusterState["allocatable"];
  allocated?: ClusterState["allocated"];
  allocating?: ClusterState["allocating"];
}

/**
 * The fleet as the scheduler hears it on the bus: each cluster's last heartbeat and when it
 * reached the bus (the server's clock, so agents' clocks do not matter). The scheduler reads
 * liveness here and never from a table another service fills: a stopped indexer must not look
 * like a silent fleet.
 */
export class FleetHealth {
  private readonly heard = new Map<string, { atMs: number; status: HeardStatus }>();

  /** Records a heartbeat; an older one arriving late changes nothing. */
  observe(cluster: string, atMs: number, status: HeardStatus): void {
    const before = this.heard.get(cluster);
    if (before && before.atMs > atMs) return;
    this.heard.set(cluster, { atMs, status });
  }

  lastHeardMs(cluster: string): number | undefined {
    return this.heard.get(cluster)?.atMs;
  }

  statusOf(cluster: string): HeardStatus | undefined {
    return this.heard.get(cluster)?.status;
  }
}

export interface FleetView {
  clusters: ClusterState[];
  readiness: Map<string, ClusterCondition>;
  disruption: FleetDisruption;
}

/** A registered cluster's identity and topology, as placement matches it. */
export function clusterInfo(row: ClusterRegistryRow): ClusterInfo {
  return {
    name: row.name,
    labels: row.labels,
    ...(row.provider ? { provider: row.provider } : {}),
    ...(row.region ? { region: row.region } : {}),
    ...(row.zone ? { zones: [row.zone] } : {}),
  };
}

/**
 * Clusters as placement sees them: the registry's properties and taints, capacity from the last
 * heartbeat, and the NoSchedule taint of a cluster that is not ready or has gone silent.
 */
export function fleetView(
  registry: ClusterRegistryRow[],
  fleet: FleetHealth,
  nowMs: number,
  graceMs: number,
): FleetView {
  const readiness = new Map<string, ClusterCondition>();
  const clusters = registry.map((row): ClusterState => {
    const status = fleet.statusOf(row.name);
    const lastHeardMs = fleet.lastHeardMs(row.name);
    const ready = readyCondition(
      row.name,
      lastHeardMs === undefined ? undefined : { lastHeardMs, readyNodes: status?.nodes?.ready ?? 0 },
      nowMs,
      graceMs,
    );
    readiness.set(row.name, ready);
    return {
      ...clusterInfo(row),
      taints: conditionTaints((row.taints ?? []) as Taint[], ready),
      ...(status?.enabledApis?.length ? { enabledApis: status.enabledApis } : {}),
      ...(status?.allocatable ? { allocatable: status.allocatable } : {}),
      ...(status?.allocated ? { allocated: status.allocated } : {}),
      ...(status?.allocating ? { allocating: status.allocating } : {}),
    };
  });
  const disruption = fleetDisruption(clusters.map((c) => ({ name: c.name, ready: readiness.get(c.name)! })));
  return { clusters, readiness, disruption };
}

/**
 * Keeps the fleet's health current from the heartbeats on the bus, by the server's clock. The last
 * heartbeat of every cluster is read before this resolves, so the first decisions see the fleet as
 * it is rather than as silent; the watch then follows it.
 */
export async function followHeartbeats(
  fleet: FleetHealth,
  bus: Bus,
  logger: Logger,
): Promise<{ stop(): void }> {
  const hear = (entry: KvEntry) => {
    if (entry.operation !== "PUT") return;
    try {
      const heartbeat = heartbeatCodec.decode(entry.value);
      // An agent's first beat, sent before its nodes are listed, says nothing of capacity or
      // readiness; taken as one, a restarting agent would make a healthy cluster look empty.
      if (heartbeat.starting) return;
      const { status } = heartbeatToRow(heartbeat);
      fleet.observe(entry.key, entry.created.getTime(), status as never);
    } catch (error) {
      logger.warn(
        { cluster: entry.key, err: (error as Error).message },
        "an unreadable heartbeat; ignoring it",
      );
    }
  };
  const bucket = await bus.clusters();
  // The listing yields a key again for each beat that lands while it runs; each is read once.
  const keys = new Set<string>();
  for await (const key of await bucket.keys()) keys.add(key);
  for (const key of keys) {
    const entry = await bucket.get(key);
    if (entry) hear(entry);
  }
  return bus.watchClusters(async (entry) => hear(entry));
}

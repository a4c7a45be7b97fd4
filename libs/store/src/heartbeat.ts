import { type ClusterHeartbeat, SyncMode, SyncState } from "@atoll/contracts";
import type { ClusterHeartbeatRow } from "./clusters.js";

const quantities = (q: ClusterHeartbeat["allocatable"]) => ({
  cpuMillis: Number(q?.cpuMillis ?? 0n),
  memoryBytes: Number(q?.memoryBytes ?? 0n),
  pods: Number(q?.pods ?? 0n),
});

/** The clusters-table view of a heartbeat: JSON-friendly numbers, sync state by resource. */
export function heartbeatToRow(heartbeat: ClusterHeartbeat): ClusterHeartbeatRow {
  return {
    name: heartbeat.cluster,
    syncMode: heartbeat.mode === SyncMode.PULL ? "pull" : "push",
    ready: (heartbeat.nodes?.ready ?? 0) > 0,
    kubernetesVersion: heartbeat.kubernetesVersion,
    lastHeartbeat: new Date(Number(heartbeat.sentAtMs)),
    status: {
      agentId: heartbeat.agentId,
      agentVersion: heartbeat.agentVersion,
      enabledApis: heartbeat.enabledApis,
      nodes: { total: heartbeat.nodes?.total ?? 0, ready: heartbeat.nodes?.ready ?? 0 },
      allocatable: quantities(heartbeat.allocatable),
      allocated: quantities(heartbeat.allocated),
      allocating: quantities(heartbeat.allocating),
      sync: heartbeat.sync.map((s) => ({
        resource: s.group ? `${s.group}/${s.version}/${s.resource}` : `${s.version}/${s.resource}`,
        state: SyncState[s.state].toLowerCase(),
        objects: Number(s.objectCount),
        lastList: s.lastListMs > 0n ? new Date(Number(s.lastListMs)).toISOString() : null,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      })),
    },
  };
}

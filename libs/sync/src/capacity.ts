import type { JsonObject } from "@atoll/kube";
import { cpuMillis, type KubeObject, parseQuantity, podRequests, type ReflectorEvent } from "@atoll/kube";

export interface Quantities {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}

const zero = (): Quantities => ({ cpuMillis: 0, memoryBytes: 0, pods: 0 });

function add(into: Quantities, q: Quantities): void {
  into.cpuMillis += q.cpuMillis;
  into.memoryBytes += q.memoryBytes;
  into.pods += q.pods;
}

interface PodUsage {
  requests: Quantities;
  bound: boolean;
}

/** Usages shared by pods asking alike are dropped once there are this many more than pods. */
const SPARE_USAGES = 1024;

const usageKey = ({ requests, bound }: PodUsage) =>
  `${bound ? 1 : 0}/${requests.cpuMillis}/${requests.memoryBytes}/${requests.pods}`;

/**
 * Keeps the few numbers per node and pod the heartbeat needs (readiness, allocatable, requests),
 * fed from the same reflector events that go to the bus, so no extra lists hit the API server.
 */
export class CapacityTracker {
  private readonly nodes = new Map<string, { ready: boolean; allocatable: Quantities }>();
  private readonly pods = new Map<string, PodUsage>();
  /**
   * One usage object per distinct (requests, bound), shared by every pod that has it: a
   * deployment's replicas ask alike, and 300,000 pods with two objects each outgrew the agent's
   * 160 MB heap. Rebuilt from the pods when those no pod uses pile up.
   */
  private usages = new Map<string, PodUsage>();

  observe(kind: string, event: ReflectorEvent): void {
    if (event.type === "SYNC_BEGIN" || event.type === "SYNC_END") return;
    if (kind === "Node") this.observeNode(event);
    if (kind === "Pod") this.observePod(event);
  }

  private observeNode(event: Exclude<ReflectorEvent, { type: "SYNC_BEGIN" | "SYNC_END" }>): void {
    if (event.type === "DELETED") {
      this.nodes.delete(event.uid);
      return;
    }
    const node = event.object as JsonObject;
    const allocatable = node.status?.allocatable ?? {};
    this.nodes.set(node.metadata.uid, {
      ready: (node.status?.conditions ?? []).some(
        (c: JsonObject) => c.type === "Ready" && c.status === "True",
      ),
      allocatable: {
        cpuMillis: cpuMillis(allocatable.cpu),
        memoryBytes: parseQuantity(allocatable.memory),
        pods: parseQuantity(allocatable.pods),
      },
    });
  }

  private observePod(event: Exclude<ReflectorEvent, { type: "SYNC_BEGIN" | "SYNC_END" }>): void {
    const uid = event.type === "DELETED" ? event.uid : (event.object as KubeObject).metadata.uid;
    const pod = event.object as JsonObject;
    const finished = pod?.status?.phase === "Succeeded" || pod?.status?.phase === "Failed";
    if (event.type === "DELETED" || finished) {
      this.pods.delete(uid);
      return;
    }
    this.pods.set(uid, this.usage(podRequests(pod.spec ?? {}), Boolean(pod.spec?.nodeName)));
  }

  private usage(requests: Quantities, bound: boolean): PodUsage {
    const fresh = { requests, bound };
    const key = usageKey(fresh);
    const shared = this.usages.get(key);
    if (shared) return shared;
    if (this.usages.size > this.pods.size + SPARE_USAGES)
      this.usages = new Map([...this.pods.values()].map((usage) => [usageKey(usage), usage]));
    this.usages.set(key, fresh);
    return fresh;
  }

  summary(): {
    nodes: { total: number; ready: number };
    allocatable: Quantities;
    allocated: Quantities;
    allocating: Quantities;
  } {
    const allocatable = zero();
    let ready = 0;
    for (const node of this.nodes.values()) {
      if (!node.ready) continue;
      ready += 1;
      add(allocatable, node.allocatable);
    }
    const allocated = zero();
    const allocating = zero();
    for (const pod of this.pods.values()) add(pod.bound ? allocated : allocating, pod.requests);
    return { nodes: { total: this.nodes.size, ready }, allocatable, allocated, allocating };
  }
}

import { createHash, randomInt } from "node:crypto";
import type { ResourceType } from "@atoll/kube";
import type { Obj, SimEvent, SimStore } from "./store.js";

const DEPLOYMENTS = "apps/deployments";
const REPLICA_SETS = "apps/replicasets";
const STATEFUL_SETS = "apps/statefulsets";
const DAEMON_SETS = "apps/daemonsets";
const WORKLOADS = new Set([DEPLOYMENTS, REPLICA_SETS, STATEFUL_SETS, DAEMON_SETS]);

/** The letters Kubernetes uses for generated name suffixes: no vowels, no look-alikes. */
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const suffix = (length: number) =>
  Array.from({ length }, () => SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]).join("");

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

const ownerReference = (owner: Obj) => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name,
  uid: owner.metadata.uid,
  controller: true,
  blockOwnerDeletion: true,
});

const ownedBy = (object: Obj, owner: Obj) =>
  ((object.metadata.ownerReferences ?? []) as Obj[]).some((ref) => ref.uid === owner.metadata.uid);

const isReady = (pod: Obj) =>
  ((pod.status?.conditions ?? []) as Obj[]).some((c) => c.type === "Ready" && c.status === "True");

/** Whether a workload's status already answers its spec, so there is nothing to do. */
function settled(typeKey: string, object: Obj): boolean {
  const status = object.status ?? {};
  if (status.observedGeneration !== object.metadata.generation) return false;
  return typeKey === DAEMON_SETS || status.replicas === (object.spec?.replicas ?? 1);
}

/**
 * The sim's stand-in for the workload controllers and the kubelet, for demos and tests that
 * want workloads to come up: each Deployment gets a ReplicaSet for its template, each
 * ReplicaSet and StatefulSet its replicas as pods, each DaemonSet a pod per node, every pod
 * scheduled, running and ready at once, and every workload a status that says so. Pods that
 * exist already count as they are, ready or not. A template change replaces all pods at once.
 */
export class WorkloadController {
  private readonly queued = new Map<string, { typeKey: string; namespace: string; name: string }>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private nodeTurn = 0;

  constructor(
    private readonly store: SimStore,
    /** How long after a change its workload is acted on, as a real controller lags a little. */
    private readonly delayMs = 50,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => this.notice(event));
    for (const typeKey of WORKLOADS) {
      const type = this.type(typeKey);
      if (type) for (const { object } of this.store.list(type)) this.enqueue(typeKey, object);
    }
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private notice(event: SimEvent): void {
    if (event.type !== "DELETED" && WORKLOADS.has(event.typeKey)) this.enqueue(event.typeKey, event.object);
  }

  private enqueue(typeKey: string, object: Obj): void {
    if (settled(typeKey, object)) return;
    const { namespace = "", name } = object.metadata;
    this.queued.set(`${typeKey}/${namespace}/${name}`, { typeKey, namespace, name });
    this.timer ??= setTimeout(() => this.drain(), this.delayMs);
  }

  private drain(): void {
    this.timer = undefined;
    const work = [...this.queued.values()];
    this.queued.clear();
    for (const { typeKey, namespace, name } of work) {
      const type = this.type(typeKey);
      const object = type && this.store.tryGet(type, namespace, name);
      if (!type || !object || settled(typeKey, object)) continue;
      if (typeKey === DEPLOYMENTS) this.deployment(type, object);
      else if (typeKey === REPLICA_SETS) this.replicaSet(type, object);
      else if (typeKey === STATEFUL_SETS) this.statefulSet(type, object);
      else this.daemonSet(type, object);
    }
  }

  private type(typeKey: string): ResourceType | undefined {
    const [group, resource] = typeKey.split("/") as [string, string];
    return this.store.findType(group, "v1", resource);
  }

  private podType(): ResourceType {
    return this.store.findType("", "v1", "pods")!;
  }

  private podsOf(owner: Obj): Obj[] {
    return this.store
      .list(this.podType(), owner.metadata.namespace)
      .map(({ object }) => object)
      .filter((pod) => ownedBy(pod, owner));
  }

  private nodes(): string[] {
    const nodeType = this.store.findType("", "v1", "nodes");
    return nodeType ? this.store.list(nodeType).map(({ object }) => object.metadata.name as string) : [];
  }

  /** A pod of a template, running and ready on a node, or pending when there is no node. */
  private runPod(owner: Obj, name: string, nodeName?: string): Obj {
    const template = owner.spec?.template ?? {};
    const nodes = this.nodes();
    const node = nodeName ?? nodes[this.nodeTurn++ % Math.max(nodes.length, 1)];
    const containers = (template.spec?.containers ?? []) as Obj[];
    const started = now();
    const scheduled = node !== undefined;
    return this.store.create(
      this.podType(),
      {
        metadata: {
          name,
          namespace: owner.metadata.namespace,
          labels: { ...(template.metadata?.labels ?? {}) },
          ownerReferences: [ownerReference(owner)],
        },
        spec: { ...(template.spec ?? {}), ...(scheduled ? { nodeName: node } : {}) },
        status: scheduled
          ? {
              phase: "Running",
              startTime: started,
              podIP: `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`,
              conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
                type,
                status: "True",
                lastTransitionTime: started,
              })),
              containerStatuses: containers.map((c) => ({
                name: c.name,
                image: c.image,
                ready: true,
                started: true,
                restartCount: 0,
                state: { running: { startedAt: started } },
              })),
            }
          : {
              phase: "Pending",
              conditions: [
                {
                  type: "PodScheduled",
                  status: "False",
                  reason: "Unschedulable",
                  message: "0/0 nodes are available: no nodes registered.",
                },
              ],
            },
      },
      owner.metadata.namespace,
    );
  }

  private deletePod(pod: Obj): void {
    this.store.delete(this.podType(), pod.metadata.namespace, pod.metadata.name);
  }

  private setStatus(type: ResourceType, object: Obj, status: Obj): void {
    this.store.update(
      type,
      { ...object, status: { observedGeneration: object.metadata.generation, ...status } },
      object.metadata.namespace,
      "status",
    );
  }

  private deployment(type: ResourceType, deployment: Obj): void {
    const replicaSetType = this.type(REPLICA_SETS)!;
    const namespace = deployment.metadata.namespace;
    const template = deployment.spec?.template ?? {};
    const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);
    const replicas = deployment.spec?.replicas ?? 1;
    const owned = this.store
      .list(replicaSetType, namespace)
      .map(({ object }) => object)
      .filter((rs) => ownedBy(rs, deployment));
    let current = owned.find((rs) => rs.metadata.labels?.["pod-template-hash"] === hash);
    for (const old of owned)
      if (old !== current) this.store.delete(replicaSetType, namespace, old.metadata.name);
    const labels = { ...(template.metadata?.labels ?? {}), "pod-template-hash": hash };
    if (!current)
      current = this.store.create(
        replicaSetType,
        {
          metadata: {
            name: `${deployment.metadata.name}-${hash}`,
            namespace,
            labels,
            ownerReferences: [ownerReference(deployment)],
          },
          spec: {
            replicas,
            selector: {
              ...(deployment.spec?.selector ?? {}),
              matchLabels: { ...(deployment.spec?.selector?.matchLabels ?? {}), "pod-template-hash": hash },
            },
            template: { ...template, metadata: { ...(template.metadata ?? {}), labels } },
          },
        },
        namespace,
      );
    else if (current.spec?.replicas !== replicas)
      current = this.store.update(
        replicaSetType,
        { ...current, spec: { ...current.spec, replicas } },
        namespace,
      );
    const { running, ready } = this.replicaSet(replicaSetType, current);
    this.setStatus(type, deployment, {
      replicas: running,
      updatedReplicas: running,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(running > ready ? { unavailableReplicas: running - ready } : {}),
      conditions: [
        {
          type: "Available",
          status: ready >= replicas ? "True" : "False",
          reason: ready >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
          lastUpdateTime: now(),
        },
        {
          type: "Progressing",
          status: "True",
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet "${current.metadata.name}" has successfully progressed.`,
          lastUpdateTime: now(),
        },
      ],
    });
  }

  private replicaSet(type: ResourceType, replicaSet: Obj): { running: number; ready: number } {
    const replicas = replicaSet.spec?.replicas ?? 1;
    const pods = this.podsOf(replicaSet);
    for (const extra of pods.splice(replicas)) this.deletePod(extra);
    while (pods.length < replicas)
      pods.push(this.runPod(replicaSet, `${replicaSet.metadata.name}-${suffix(5)}`));
    const ready = pods.filter(isReady).length;
    this.setStatus(type, this.store.get(type, replicaSet.metadata.namespace, replicaSet.metadata.name), {
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
    });
    return { running: pods.length, ready };
  }

  private statefulSet(type: ResourceType, statefulSet: Obj): void {
    const replicas = statefulSet.spec?.replicas ?? 1;
    const name = statefulSet.metadata.name;
    const pods = this.podsOf(statefulSet);
    for (const pod of pods) {
      const ordinal = Number(pod.metadata.name.slice(name.length + 1));
      if (!(ordinal < replicas)) this.deletePod(pod);
    }
    const kept = new Set(pods.map((p) => p.metadata.name));
    const current: Obj[] = [];
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const podName = `${name}-${ordinal}`;
      current.push(
        kept.has(podName)
          ? this.store.get(this.podType(), statefulSet.metadata.namespace, podName)
          : this.runPod(statefulSet, podName),
      );
    }
    const ready = current.filter(isReady).length;
    this.setStatus(type, statefulSet, {
      replicas: current.length,
      currentReplicas: current.length,
      updatedReplicas: current.length,
      readyReplicas: ready,
      availableReplicas: ready,
    });
  }

  private daemonSet(type: ResourceType, daemonSet: Obj): void {
    const nodes = this.nodes();
    const pods = this.podsOf(daemonSet);
    const onNode = new Map(pods.map((pod) => [pod.spec?.nodeName as string, pod]));
    for (const pod of pods) if (!nodes.includes(pod.spec?.nodeName)) this.deletePod(pod);
    const current = nodes.map(
      (node) => onNode.get(node) ?? this.runPod(daemonSet, `${daemonSet.metadata.name}-${suffix(5)}`, node),
    );
    const ready = current.filter(isReady).length;
    this.setStatus(type, daemonSet, {
      desiredNumberScheduled: nodes.length,
      currentNumberScheduled: current.length,
      updatedNumberScheduled: current.length,
      numberMisscheduled: 0,
      numberReady: ready,
      numberAvailable: ready,
    });
  }
}

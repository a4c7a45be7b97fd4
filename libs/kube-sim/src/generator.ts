import type { KubeSim } from "./server.js";
import type { Obj } from "./store.js";

/** Deterministic PRNG (mulberry32), so a seed always yields the same cluster. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type PodFailure =
  | "CrashLoopBackOff"
  | "ImagePullBackOff"
  | "Unschedulable"
  | "OOMKilled"
  | "Evicted"
  | "CreateContainerConfigError"
  | "FailedMount"
  | "ProbeFailure";

/** Broken objects beside the workloads, one kind of trouble each. */
export type ClusterFault =
  | "FailedJob"
  | "NotReadyNode"
  | "PendingVolumeClaim"
  | "ServiceWithoutPods"
  | "IngressToMissingService"
  | "MissingConfigMap"
  | "SuspendedCronJob"
  | "HPAWithoutTarget";

export interface GenerateOptions {
  seed: number;
  namespaces?: string[];
  nodes?: number;
  deploymentsPerNamespace?: number;
  maxReplicas?: number;
  /** How many pods to break in each way; the first pods of the first deployments are chosen. */
  failures?: Partial<Record<PodFailure, number>>;
  /** How many broken objects of each kind to add, in the first namespace. */
  faults?: Partial<Record<ClusterFault, number>>;
}

export interface GeneratedCluster {
  namespaces: string[];
  deployments: { namespace: string; name: string }[];
  failedPods: { namespace: string; name: string; failure: PodFailure }[];
  /** The objects each fault broke: kind, namespace ("" at cluster scope) and name. */
  faults: { kind: string; namespace: string; name: string; fault: ClusterFault }[];
}

const APPS = ["web", "api", "worker", "cache", "gateway", "auth", "billing", "search", "reports", "ingest"];
const IMAGES: Record<string, string> = {
  web: "nginx:1.27",
  api: "ghcr.io/example/api:2.4.1",
  worker: "ghcr.io/example/worker:2.4.1",
  cache: "redis:7.2",
  gateway: "envoyproxy/envoy:v1.31",
  auth: "ghcr.io/example/auth:1.9.0",
  billing: "ghcr.io/example/billing:3.0.2",
  search: "opensearchproject/opensearch:2.15",
  reports: "ghcr.io/example/reports:0.8.0",
  ingest: "ghcr.io/example/ingest:1.2.3",
};

function hash(random: () => number, length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)];
  return out;
}

function isoAgo(random: () => number, maxHours: number): string {
  return new Date(Date.now() - Math.floor(random() * maxHours * 3_600_000))
    .toISOString()
    .replace(/\.\d+Z$/, "Z");
}

function node(name: string, zone: string): Obj {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": zone,
        "node-role.kubernetes.io/worker": "",
      },
    },
    spec: {},
    status: {
      capacity: { cpu: "8", memory: "32Gi", pods: "110" },
      allocatable: { cpu: "7800m", memory: "30Gi", pods: "110" },
      conditions: [
        { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure" },
      ],
      nodeInfo: {
        kubeletVersion: "v1.30.0",
        osImage: "Debian GNU/Linux 12",
        containerRuntimeVersion: "containerd://1.7",
      },
    },
  };
}

function podStatus(
  failure: PodFailure | undefined,
  image: string,
  nodeName: string,
  random: () => number,
): { spec: Obj; status: Obj } {
  const container = {
    name: "main",
    image,
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: isoAgo(random, 48) } },
  };
  /** A scheduled pod whose one container is not ready, in the given state. */
  const unready = (phase: string, containerStatus: Obj) => ({
    spec: { nodeName },
    status: {
      phase,
      conditions: [{ type: "Ready", status: "False", reason: "ContainersNotReady" }],
      containerStatuses: [{ ...container, ready: false, started: false, ...containerStatus }],
    },
  });
  const crashLooping = (exitCode: number, reason: string) =>
    unready("Running", {
      restartCount: 3 + Math.floor(random() * 20),
      state: {
        waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container=main" },
      },
      lastState: { terminated: { exitCode, reason, finishedAt: isoAgo(random, 1) } },
    });
  switch (failure) {
    case "CrashLoopBackOff":
      return crashLooping(1, "Error");
    case "OOMKilled":
      return crashLooping(137, "OOMKilled");
    case "ImagePullBackOff":
      return unready("Pending", {
        image: `${image}-missing`,
        state: {
          waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}-missing"` },
        },
      });
    case "CreateContainerConfigError":
      return unready("Pending", {
        state: {
          waiting: { reason: "CreateContainerConfigError", message: 'secret "db-password" not found' },
        },
      });
    case "FailedMount":
      return unready("Pending", { state: { waiting: { reason: "ContainerCreating" } } });
    case "ProbeFailure":
      return unready("Running", { started: true, state: container.state });
    case "Evicted":
      return {
        spec: { nodeName },
        status: {
          phase: "Failed",
          reason: "Evicted",
          message: "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.",
        },
      };
    case "Unschedulable":
      return {
        spec: {},
        status: {
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message: "0/3 nodes are available: 3 Insufficient memory.",
            },
          ],
        },
      };
    default:
      return {
        spec: { nodeName },
        status: {
          phase: "Running",
          podIP: `10.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}`,
          conditions: [
            { type: "Ready", status: "True" },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [container],
        },
      };
  }
}

/** The warning event the kubelet or scheduler records for each pod failure. */
const FAILURE_EVENTS: Record<PodFailure, (image: string) => { reason: string; message: string }> = {
  CrashLoopBackOff: () => ({ reason: "BackOff", message: "Back-off restarting failed container main" }),
  OOMKilled: () => ({ reason: "BackOff", message: "Back-off restarting failed container main" }),
  ImagePullBackOff: (image) => ({
    reason: "Failed",
    message: `Failed to pull image "${image}-missing": not found`,
  }),
  Unschedulable: () => ({
    reason: "FailedScheduling",
    message: "0/3 nodes are available: 3 Insufficient memory.",
  }),
  Evicted: () => ({ reason: "Evicted", message: "The node was low on resource: memory." }),
  CreateContainerConfigError: () => ({ reason: "Failed", message: 'Error: secret "db-password" not found' }),
  FailedMount: () => ({
    reason: "FailedMount",
    message: 'MountVolume.SetUp failed for volume "data" : configmap "data-seed" not found',
  }),
  ProbeFailure: () => ({
    reason: "Unhealthy",
    message: "Readiness probe failed: HTTP probe failed with statuscode: 503",
  }),
};

/** One broken object per fault; each returns what it broke. */
const FAULTS: Record<
  ClusterFault,
  (sim: KubeSim, namespace: string, name: string) => { kind: string; namespace: string; name: string }
> = {
  FailedJob: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace },
      spec: {
        backoffLimit: 2,
        template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36" }] } },
      },
      status: {
        failed: 3,
        conditions: [
          {
            type: "Failed",
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
          },
        ],
      },
    });
    return { kind: "Job", namespace, name };
  },
  NotReadyNode: (sim, _namespace, name) => {
    sim.apply({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name } },
      status: {
        conditions: [
          {
            type: "Ready",
            status: "Unknown",
            reason: "NodeStatusUnknown",
            message: "Kubelet stopped posting node status.",
          },
        ],
      },
    });
    return { kind: "Node", namespace: "", name };
  },
  PendingVolumeClaim: (sim, namespace, name) => {
    const claim = sim.apply({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "fast",
        resources: { requests: { storage: "10Gi" } },
      },
      status: { phase: "Pending" },
    });
    sim.apply({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${name}.provisioning`, namespace },
      involvedObject: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        name,
        namespace,
        uid: claim.metadata.uid,
      },
      reason: "ProvisioningFailed",
      message: 'storageclass.storage.k8s.io "fast" not found',
      type: "Warning",
      count: 4,
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    });
    return { kind: "PersistentVolumeClaim", namespace, name };
  },
  ServiceWithoutPods: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { selector: { app: `${name}-gone` }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    return { kind: "Service", namespace, name };
  },
  IngressToMissingService: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressClass",
      metadata: { name: "nginx" },
      spec: { controller: "k8s.io/ingress-nginx" },
    });
    sim.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name, namespace },
      spec: {
        ingressClassName: "nginx",
        rules: [
          {
            host: `${name}.example.com`,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: `${name}-backend`, port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    return { kind: "Ingress", namespace, name };
  },
  MissingConfigMap: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: "main",
                image: "nginx:1.27",
                envFrom: [{ configMapRef: { name: `${name}-settings` } }],
              },
            ],
          },
        },
      },
      status: { replicas: 0, readyReplicas: 0 },
    });
    return { kind: "Deployment", namespace, name };
  },
  SuspendedCronJob: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name, namespace },
      spec: {
        schedule: "0 3 * * *",
        suspend: true,
        jobTemplate: {
          spec: {
            template: {
              spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36" }] },
            },
          },
        },
      },
    });
    return { kind: "CronJob", namespace, name };
  },
  HPAWithoutTarget: (sim, namespace, name) => {
    sim.apply({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name, namespace },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `${name}-target` },
        minReplicas: 1,
        maxReplicas: 5,
      },
    });
    return { kind: "HorizontalPodAutoscaler", namespace, name };
  },
};

/** Fills a sim with a realistic, seeded cluster: nodes, namespaces, workloads, services, config and events. */
export function generateCluster(sim: KubeSim, options: GenerateOptions): GeneratedCluster {
  const random = seededRandom(options.seed);
  const namespaces = options.namespaces ?? ["default", "kube-system", "prod", "staging", "payments"];
  const nodeCount = options.nodes ?? 3;
  const zones = ["zone-a", "zone-b", "zone-c"];
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${i + 1}`);
  for (const [i, name] of nodeNames.entries()) sim.apply(node(name, zones[i % zones.length]!));
  const failureQueue: PodFailure[] = [];
  for (const [failure, count] of Object.entries(options.failures ?? {}) as [PodFailure, number][]) {
    for (let i = 0; i < count; i++) failureQueue.push(failure);
  }
  const result: GeneratedCluster = { namespaces, deployments: [], failedPods: [], faults: [] };
  for (const namespace of namespaces) {
    sim.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace, labels: { "kubernetes.io/metadata.name": namespace } },
      status: { phase: "Active" },
    });
    sim.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace } });
    const perNamespace = options.deploymentsPerNamespace ?? 4;
    for (let d = 0; d < perNamespace; d++) {
      const app = APPS[(d + namespace.length) % APPS.length]!;
      const name = perNamespace > APPS.length ? `${app}-${d}` : app;
      const image = IMAGES[app]!;
      const replicas = 1 + Math.floor(random() * (options.maxReplicas ?? 3));
      const labels = {
        app: name,
        team: ["platform", "payments", "search", "growth"][d % 4]!,
        tier: d % 2 ? "backend" : "frontend",
      };
      const template = {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "main",
              image,
              ports: [{ containerPort: 8080 }],
              resources: {
                requests: { cpu: "100m", memory: "128Mi" },
                limits: { cpu: "500m", memory: "512Mi" },
              },
              envFrom: [{ configMapRef: { name: `${name}-config` } }],
            },
          ],
        },
      };
      sim.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${name}-config`, namespace, labels: { app: name } },
        data: { LOG_LEVEL: "info", FEATURE_FLAGS: "a,b" },
      });
      sim.apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-credentials`, namespace, labels: { app: name } },
        type: "Opaque",
        data: {
          password: Buffer.from(`s3cret-${hash(random, 12)}`).toString("base64"),
          username: Buffer.from(name).toString("base64"),
        },
      });
      sim.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace, labels: { app: name } },
        spec: {
          type: "ClusterIP",
          clusterIP: `10.96.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}`,
          selector: { app: name },
          ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
        },
      });
      const deployment = sim.apply({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace, labels },
        spec: { replicas, selector: { matchLabels: { app: name } }, template },
      });
      const podHash = hash(random, 10);
      const replicaSet = sim.apply({
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: `${name}-${podHash}`,
          namespace,
          labels: { ...labels, "pod-template-hash": podHash },
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name,
              uid: deployment.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { replicas, selector: { matchLabels: { app: name, "pod-template-hash": podHash } }, template },
        status: { replicas, readyReplicas: replicas, availableReplicas: replicas },
      });
      let ready = 0;
      for (let r = 0; r < replicas; r++) {
        const podName = `${name}-${podHash}-${hash(random, 5)}`;
        const failure = failureQueue.shift();
        const nodeName = nodeNames[Math.floor(random() * nodeNames.length)]!;
        const { spec, status } = podStatus(failure, image, nodeName, random);
        const pod = sim.apply({
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: podName,
            namespace,
            labels: { ...labels, "pod-template-hash": podHash },
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: replicaSet.metadata.name,
                uid: replicaSet.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: { ...template.spec, ...spec, serviceAccountName: "default", restartPolicy: "Always" },
          status,
        });
        if (failure) {
          result.failedPods.push({ namespace, name: podName, failure });
          const { reason, message } = FAILURE_EVENTS[failure](image);
          sim.apply({
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: `${podName}.${hash(random, 8)}`, namespace },
            involvedObject: {
              apiVersion: "v1",
              kind: "Pod",
              name: podName,
              namespace,
              uid: pod.metadata.uid,
            },
            reason,
            message,
            type: "Warning",
            count: 3 + Math.floor(random() * 10),
            firstTimestamp: isoAgo(random, 2),
            lastTimestamp: isoAgo(random, 0.1),
            source: { component: failure === "Unschedulable" ? "default-scheduler" : "kubelet" },
          });
        } else ready += 1;
      }
      const current = sim.store.get(sim.store.typeForObject(deployment), namespace, name);
      sim.store.update(
        sim.store.typeForObject(deployment),
        {
          ...current,
          status: {
            replicas,
            readyReplicas: ready,
            updatedReplicas: replicas,
            availableReplicas: ready,
            observedGeneration: 1,
          },
        },
        namespace,
        "status",
      );
      sim.apply({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${name}.${hash(random, 8)}`, namespace },
        involvedObject: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          name,
          namespace,
          uid: deployment.metadata.uid,
        },
        reason: "ScalingReplicaSet",
        message: `Scaled up replica set ${replicaSet.metadata.name} to ${replicas}`,
        type: "Normal",
        count: 1,
        firstTimestamp: isoAgo(random, 24),
        lastTimestamp: isoAgo(random, 24),
        source: { component: "deployment-controller" },
      });
      result.deployments.push({ namespace, name });
    }
  }
  for (const [fault, count] of Object.entries(options.faults ?? {}) as [ClusterFault, number][])
    for (let i = 0; i < count; i++) {
      const name = `${fault
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2")
        .replace(/([a-z])([A-Z])/g, "$1-$2")
        .toLowerCase()}-${i}`;
      result.faults.push({ ...FAULTS[fault](sim, namespaces[0]!, name), fault });
    }
  return result;
}

export interface Churn {
  stop(): void;
  /** Changes made so far. */
  readonly changes: number;
}

/**
 * Changes the cluster at a steady rate: pods are annotated, replaced (delete + create, under a new
 * name or the same one) and config edited, as a busy cluster would. Ticks every 50 ms so rates up
 * to thousands per second work.
 */
export function startChurn(sim: KubeSim, options: { ratePerSecond: number; seed: number }): Churn {
  const random = seededRandom(options.seed);
  const podType = sim.store.findType("", "v1", "pods")!;
  const configType = sim.store.findType("", "v1", "configmaps")!;
  let changes = 0;
  let owed = 0;
  const tickMs = 50;
  const timer = setInterval(() => {
    owed += (options.ratePerSecond * tickMs) / 1000;
    while (owed >= 1) {
      owed -= 1;
      const roll = random();
      const pod = sim.store.sample(podType, random);
      if (!pod) return;
      if (roll < 0.55) {
        sim.store.update(podType, {
          ...pod,
          metadata: {
            ...pod.metadata,
            resourceVersion: undefined,
            annotations: { ...pod.metadata.annotations, "sim.atoll.dev/churn": String(changes) },
          },
        });
      } else if (roll < 0.85) {
        sim.store.delete(podType, pod.metadata.namespace, pod.metadata.name);
        const { uid: _uid, resourceVersion: _rv, creationTimestamp: _created, ...metadata } = pod.metadata;
        // Most replacements take a new name, as a ReplicaSet's pods do; some come back under the
        // same name with a new uid, as a StatefulSet's pods do.
        const sameName = roll >= 0.75;
        sim.store.create(podType, {
          ...pod,
          metadata: {
            ...metadata,
            name: sameName
              ? pod.metadata.name
              : `${pod.metadata.name.replace(/-[a-z0-9]{5}$/, "")}-${hash(random, 5)}`,
          },
        });
      } else {
        const config = sim.store.sample(configType, random);
        if (!config) continue;
        sim.store.update(configType, {
          ...config,
          metadata: { ...config.metadata, resourceVersion: undefined },
          data: { ...config.data, REVISION: String(changes) },
        });
      }
      changes += 1;
    }
  }, tickMs);
  return {
    stop: () => clearInterval(timer),
    get changes() {
      return changes;
    },
  };
}

import { describe, expect, it } from "vitest";
import type { Obj } from "./objects.js";
import { buildTopology, kindGraph, neighbourhood, references, type TopologyInput } from "./topology.js";

const meta = (kind: string, name: string, namespace = "shop", extra: Obj = {}) => ({
  kind,
  metadata: { name, namespace, uid: `${kind}/${name}`, ...extra },
});

const podSpec = {
  nodeName: "node-1",
  serviceAccountName: "web",
  volumes: [
    { name: "conf", configMap: { name: "web-config" } },
    { name: "data", persistentVolumeClaim: { claimName: "web-data" } },
    { name: "gone", configMap: { name: "not-there" } },
    { name: "maybe", configMap: { name: "also-not-there", optional: true } },
    { name: "api", projected: { sources: [{ configMap: { name: "kube-root-ca.crt" } }] } },
  ],
  containers: [
    { name: "web", env: [{ name: "PW", valueFrom: { secretKeyRef: { name: "web-secret", key: "pw" } } }] },
  ],
};

const objects: Obj[] = [
  {
    ...meta("Deployment", "web"),
    spec: { selector: { matchLabels: { app: "web" } }, template: { spec: podSpec } },
  },
  {
    ...meta("ReplicaSet", "web-1", "shop", {
      ownerReferences: [{ kind: "Deployment", name: "web", uid: "Deployment/web" }],
    }),
    spec: { template: { spec: podSpec } },
  },
  {
    ...meta("Pod", "web-1-a", "shop", {
      labels: { app: "web", tier: "front" },
      ownerReferences: [{ kind: "ReplicaSet", name: "web-1", uid: "ReplicaSet/web-1" }],
    }),
    spec: podSpec,
  },
  { ...meta("Pod", "db-0", "shop", { labels: { app: "db" } }), spec: { nodeName: "node-2", containers: [] } },
  { ...meta("Service", "web"), spec: { selector: { app: "web" } } },
  {
    ...meta("PodDisruptionBudget", "web"),
    spec: { selector: { matchExpressions: [{ key: "tier", operator: "Exists" }] } },
  },
  { ...meta("NetworkPolicy", "deny-all"), spec: { podSelector: {} } },
  { ...meta("ConfigMap", "web-config") },
  { ...meta("Secret", "web-secret") },
  { ...meta("Secret", "web-tls") },
  { ...meta("ServiceAccount", "web") },
  { ...meta("PersistentVolumeClaim", "web-data"), spec: { volumeName: "pv-7", storageClassName: "fast" } },
  { ...meta("PersistentVolume", "pv-7", ""), spec: { storageClassName: "fast" } },
  { ...meta("StorageClass", "fast", "") },
  { ...meta("Node", "node-1", "") },
  {
    ...meta("Ingress", "web"),
    spec: {
      ingressClassName: "nginx",
      tls: [{ secretName: "web-tls" }],
      rules: [
        {
          http: {
            paths: [{ backend: { service: { name: "web" } } }, { backend: { service: { name: "web" } } }],
          },
        },
      ],
    },
  },
  {
    ...meta("HorizontalPodAutoscaler", "web"),
    spec: { scaleTargetRef: { kind: "Deployment", name: "web" } },
  },
  { ...meta("Certificate", "web-cert"), spec: { secretName: "web-tls" } },
];

const inputs: TopologyInput[] = objects.map((o) => ({
  cluster: "c1",
  uid: o.metadata.uid,
  kind: o.kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
  labels: o.metadata.labels ?? {},
  object: o,
}));

const custom = [
  { kind: "Certificate", path: "spec.secretName", targetKind: "Secret", relation: "stores-in" },
];
const topology = buildTopology(inputs, custom);
const edge = (from: string, relation: string, to: string) => ({ from, relation, to });

describe("topology from the index", () => {
  it.each([
    ["owners point at what they own", edge("Deployment/web", "owns", "ReplicaSet/web-1")],
    ["owners, one level down", edge("ReplicaSet/web-1", "owns", "Pod/web-1-a")],
    ["a Service selects pods by its selector map", edge("Service/web", "selects", "Pod/web-1-a")],
    [
      "a PDB protects pods matching its expressions",
      edge("PodDisruptionBudget/web", "protects", "Pod/web-1-a"),
    ],
    [
      "an empty NetworkPolicy podSelector governs every pod",
      edge("NetworkPolicy/deny-all", "governs", "Pod/db-0"),
    ],
    ["volumes mount ConfigMaps", edge("Pod/web-1-a", "mounts", "ConfigMap/web-config")],
    ["env refers to Secrets", edge("Pod/web-1-a", "env", "Secret/web-secret")],
    [
      "templates carry the same references",
      edge("Deployment/web", "mounts", "PersistentVolumeClaim/web-data"),
    ],
    ["a pod runs as its ServiceAccount", edge("Pod/web-1-a", "runs-as", "ServiceAccount/web")],
    ["a PVC is bound to its PV", edge("PersistentVolumeClaim/web-data", "bound-to", "PersistentVolume/pv-7")],
    ["a PV has its StorageClass", edge("PersistentVolume/pv-7", "class", "StorageClass/fast")],
    ["an Ingress routes to its Services", edge("Ingress/web", "routes-to", "Service/web")],
    ["an Ingress's TLS secret", edge("Ingress/web", "tls", "Secret/web-tls")],
    ["a pod runs on its Node", edge("Pod/web-1-a", "runs-on", "Node/node-1")],
    ["an HPA scales its target", edge("HorizontalPodAutoscaler/web", "scales", "Deployment/web")],
    [
      "configured relations for custom resources",
      edge("Certificate/web-cert", "stores-in", "Secret/web-tls"),
    ],
  ])("%s", (_, expected) => {
    expect(topology.edges).toContainEqual(expected);
  });

  it("draws each edge once and never to what a selector does not match", () => {
    expect(topology.edges.filter((e) => e.from === "Ingress/web" && e.relation === "routes-to")).toHaveLength(
      1,
    );
    expect(topology.edges).not.toContainEqual(edge("Service/web", "selects", "Pod/db-0"));
    expect(topology.edges).not.toContainEqual(edge("PodDisruptionBudget/web", "protects", "Pod/db-0"));
  });

  it("lists required targets that are not in the index, but not optional or projected ones", () => {
    const missing = topology.dangling.map((d) => `${d.from} ${d.relation} ${d.kind}/${d.name}`);
    expect(missing).toContain("Pod/web-1-a mounts ConfigMap/not-there");
    expect(missing).toContain("Ingress/web class IngressClass/nginx");
    expect(missing.some((m) => m.includes("also-not-there") || m.includes("kube-root-ca.crt"))).toBe(false);
    // Node node-2 is not indexed either.
    expect(missing).toContain("Pod/db-0 runs-on Node/node-2");
  });

  it("reads owners from the index row when the object itself is not loaded", () => {
    const light = buildTopology([
      { cluster: "c1", uid: "d", kind: "Deployment", namespace: "x", name: "d" },
      {
        cluster: "c1",
        uid: "r",
        kind: "ReplicaSet",
        namespace: "x",
        name: "r",
        ownerReferences: [{ kind: "Deployment", name: "d", uid: "d" }],
      },
    ]);
    expect(light.edges).toEqual([edge("d", "owns", "r")]);
  });

  it("keeps clusters apart", () => {
    const twice = buildTopology([
      ...inputs,
      ...inputs.map((i) => ({ ...i, cluster: "c2", uid: `c2:${i.uid}` })),
    ]);
    expect(twice.edges.filter((e) => e.from.startsWith("c2:") !== e.to.startsWith("c2:"))).toEqual([]);
  });

  it("cuts a neighbourhood around one object", () => {
    const near = neighbourhood(topology, "Service/web", 1)
      .nodes.map((n) => n.uid)
      .sort();
    expect(near).toEqual(["Ingress/web", "Pod/web-1-a", "Service/web"]);
    const further = neighbourhood(topology, "Service/web", 2).nodes.map((n) => n.uid);
    expect(further).toContain("ReplicaSet/web-1");
    expect(further).toContain("Node/node-1");
    expect(further).not.toContain("Deployment/web");
  });

  it("summarises kinds and how they connect", () => {
    const graph = kindGraph(topology);
    expect(graph.kinds).toContainEqual({ kind: "Pod", count: 2 });
    expect(graph.relations).toContainEqual({
      from: "NetworkPolicy",
      relation: "governs",
      to: "Pod",
      count: 2,
    });
    expect(graph.relations).toContainEqual({
      from: "Deployment",
      relation: "owns",
      to: "ReplicaSet",
      count: 1,
    });
  });

  it("reads references from one object alone", () => {
    expect(references(objects[0]!).map((r) => `${r.relation} ${r.kind}`)).toEqual([
      "runs-as ServiceAccount",
      "mounts ConfigMap",
      "mounts PersistentVolumeClaim",
      "mounts ConfigMap",
      "mounts ConfigMap",
      "projects ConfigMap",
      "env Secret",
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { humanDuration, toTable } from "./table.js";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const created = "2026-11-22T11:00:00Z";

/** The header and first row as kubectl prints them: normal columns, or with -o wide every column. */
function printed(kind: string, object: Record<string, unknown>, wide = false) {
  const table = toTable(
    { kind },
    [{ metadata: { name: "x", creationTimestamp: created }, ...object }],
    {},
    { now: NOW },
  );
  const shown = (table.columnDefinitions as { name: string; priority: number }[])
    .map((column, i) => ({ column, i }))
    .filter(({ column }) => wide || column.priority === 0);
  return Object.fromEntries(shown.map(({ column, i }) => [column.name, table.rows[0].cells[i]]));
}

describe("server-side printing", () => {
  it.each([
    [
      "Deployment",
      {
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: "web" } },
          template: {
            spec: {
              containers: [
                { name: "main", image: "web:1" },
                { name: "proxy", image: "envoy:1" },
              ],
            },
          },
        },
        status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
      },
      true,
      {
        Name: "x",
        Ready: "2/3",
        "Up-to-date": 3,
        Available: 2,
        Age: "60m",
        Containers: "main,proxy",
        Images: "web:1,envoy:1",
        Selector: "app=web",
      },
    ],
    [
      "DaemonSet",
      {
        spec: { template: { spec: { nodeSelector: { "kubernetes.io/os": "linux" } } } },
        status: {
          desiredNumberScheduled: 3,
          currentNumberScheduled: 3,
          numberReady: 2,
          updatedNumberScheduled: 3,
          numberAvailable: 2,
        },
      },
      false,
      {
        Name: "x",
        Desired: 3,
        Current: 3,
        Ready: 2,
        "Up-to-date": 3,
        Available: 2,
        "Node Selector": "kubernetes.io/os=linux",
        Age: "60m",
      },
    ],
    [
      "Job",
      {
        spec: { completions: 2 },
        status: {
          succeeded: 2,
          startTime: "2026-11-22T11:00:00Z",
          completionTime: "2026-11-22T11:03:20Z",
          conditions: [{ type: "Complete", status: "True" }],
        },
      },
      false,
      { Name: "x", Status: "Complete", Completions: "2/2", Duration: "3m20s", Age: "60m" },
    ],
    [
      "CronJob",
      {
        spec: { schedule: "*/5 * * * *", suspend: true },
        status: { lastScheduleTime: "2026-11-22T11:55:00Z" },
      },
      false,
      {
        Name: "x",
        Schedule: "*/5 * * * *",
        Timezone: "<none>",
        Suspend: true,
        Active: 0,
        "Last Schedule": "5m",
        Age: "60m",
      },
    ],
    [
      "ConfigMap",
      { data: { a: "1", b: "2" }, binaryData: { c: "" } },
      false,
      { Name: "x", Data: 3, Age: "60m" },
    ],
    [
      "Secret",
      { type: "kubernetes.io/tls", data: { "tls.crt": {}, "tls.key": {} } },
      false,
      { Name: "x", Type: "kubernetes.io/tls", Data: 2, Age: "60m" },
    ],
    [
      "PersistentVolumeClaim",
      {
        spec: { volumeName: "pv-1", storageClassName: "fast" },
        status: {
          phase: "Bound",
          capacity: { storage: "10Gi" },
          accessModes: ["ReadWriteOnce", "ReadOnlyMany"],
        },
      },
      false,
      {
        Name: "x",
        Status: "Bound",
        Volume: "pv-1",
        Capacity: "10Gi",
        "Access Modes": "RWO,ROX",
        StorageClass: "fast",
        Age: "60m",
      },
    ],
    [
      "Ingress",
      {
        spec: { ingressClassName: "nginx", rules: [{ host: "a.example" }, { host: "b.example" }], tls: [{}] },
      },
      false,
      { Name: "x", Class: "nginx", Hosts: "a.example,b.example", Address: "", Ports: "80, 443", Age: "60m" },
    ],
    [
      "HorizontalPodAutoscaler",
      {
        spec: {
          scaleTargetRef: { kind: "Deployment", name: "web" },
          minReplicas: 2,
          maxReplicas: 10,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
            },
          ],
        },
        status: {
          currentReplicas: 3,
          currentMetrics: [
            { type: "Resource", resource: { name: "cpu", current: { averageUtilization: 45 } } },
          ],
        },
      },
      false,
      {
        Name: "x",
        Reference: "Deployment/web",
        Targets: "cpu: 45%/80%",
        MinPods: 2,
        MaxPods: 10,
        Replicas: 3,
        Age: "60m",
      },
    ],
    [
      "Service",
      {
        spec: {
          type: "NodePort",
          clusterIP: "10.0.0.1",
          ports: [{ port: 80, nodePort: 30080 }],
          selector: { app: "web" },
        },
      },
      true,
      {
        Name: "x",
        Type: "NodePort",
        "Cluster-IP": "10.0.0.1",
        "External-IP": "<none>",
        "Port(s)": "80:30080/TCP",
        Age: "60m",
        Selector: "app=web",
      },
    ],
    [
      "RoleBinding",
      {
        roleRef: { kind: "ClusterRole", name: "view" },
        subjects: [
          { kind: "User", name: "ann" },
          { kind: "ServiceAccount", name: "ci", namespace: "build" },
        ],
      },
      true,
      {
        Name: "x",
        Role: "ClusterRole/view",
        Age: "60m",
        Users: "ann",
        Groups: "",
        ServiceAccounts: "build/ci",
      },
    ],
    [
      "NetworkPolicy",
      {
        spec: {
          podSelector: { matchExpressions: [{ key: "tier", operator: "In", values: ["db", "cache"] }] },
        },
      },
      false,
      { Name: "x", "Pod-Selector": "tier in (db,cache)", Age: "60m" },
    ],
  ])("prints a %s as kubectl does", (kind, object, wide, expected) => {
    expect(printed(kind, object, wide)).toEqual(expected);
  });

  it.each([
    [45, "45s"],
    [119, "119s"],
    [200, "3m20s"],
    [600, "10m"],
    [2 * 3600 + 300, "125m"],
    [4 * 3600 + 300, "4h5m"],
    [30 * 3600, "30h"],
    [4 * 86_400 + 3 * 3600, "4d3h"],
    [100 * 86_400, "100d"],
    [3 * 365 * 86_400 + 20 * 86_400, "3y20d"],
  ])("writes %i seconds as %s", (seconds, text) => {
    expect(humanDuration(seconds)).toBe(text);
  });
});

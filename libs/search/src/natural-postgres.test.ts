import { applyIndexOps, exampleRow } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { parseNaturalQuery } from "./natural.js";
import { searchPostgres } from "./postgres.js";
import { parseSqlQuery } from "./sql.js";

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** An object created ten hours ago, as the indexer would write it. */
const row = (kind: string, namespace: string, name: string, body: Record<string, unknown>, cluster = "c1") =>
  exampleRow(kind, namespace, name, { ...body, metadata: { creationTimestamp: minutesAgo(600) } }, cluster);

const restartedPod = (name: string, finishedMinutesAgo: number, cluster = "c1") =>
  row(
    "Pod",
    "shop",
    name,
    {
      status: {
        phase: "Running",
        containerStatuses: [
          {
            name: "main",
            restartCount: 1,
            lastState: { terminated: { finishedAt: minutesAgo(finishedMinutesAgo) } },
          },
        ],
      },
    },
    cluster,
  );

describe("natural-language questions over real rows", () => {
  const handle = suiteDatabase("natural_test");

  beforeAll(async () => {
    const rows = [
      row("Deployment", "payments", "short", { spec: { replicas: 3 }, status: { readyReplicas: 1 } }),
      row("Deployment", "payments", "none-ready", { spec: { replicas: 2 }, status: {} }),
      row("Deployment", "payments", "healthy", { spec: { replicas: 2 }, status: { readyReplicas: 2 } }),
      row("Deployment", "search", "short-elsewhere", { spec: { replicas: 3 }, status: { readyReplicas: 0 } }),
      row("DaemonSet", "kube-system", "kube-proxy", { spec: {} }),
      row("DaemonSet", "monitoring", "node-exporter", { spec: {} }),
      row("Pod", "prod", "pending", { status: { phase: "Pending" } }),
      row("Pod", "prod", "running", { status: { phase: "Running" } }),
      row("Pod", "prod", "on-other-cluster", { status: { phase: "Failed" } }, "prod"),
      restartedPod("restarted-recently", 20),
      restartedPod("restarted-long-ago", 180),
      row("Pod", "shop", "crashing", {
        spec: { nodeName: "n1" },
        status: {
          phase: "Running",
          containerStatuses: [
            { name: "main", restartCount: 7, state: { waiting: { reason: "CrashLoopBackOff" } } },
          ],
        },
      }),
      row("Pod", "shop", "oom", {
        spec: { nodeName: "n2" },
        status: {
          phase: "Running",
          containerStatuses: [
            { name: "main", restartCount: 2, state: { terminated: { reason: "OOMKilled" } } },
          ],
        },
      }),
      row("Pod", "shop", "fine-on-n1", { spec: { nodeName: "n1" }, status: { phase: "Running" } }),
      row("Service", "shop", "public", { spec: { type: "LoadBalancer" } }),
      row("Service", "shop", "internal", { spec: { type: "ClusterIP" } }),
      row("Deployment", "shop", "scaled-to-zero", { spec: { replicas: 0 }, status: {} }),
      row("Deployment", "shop", "nothing-available", { spec: { replicas: 2 }, status: { replicas: 2 } }),
      row("Deployment", "shop", "available", { spec: { replicas: 2 }, status: { availableReplicas: 2 } }),
      row("Node", "", "node-ok", {
        status: {
          conditions: [
            { type: "MemoryPressure", status: "False" },
            { type: "Ready", status: "True" },
          ],
        },
      }),
      row("Node", "", "node-pressed", {
        status: {
          conditions: [
            { type: "MemoryPressure", status: "True" },
            { type: "Ready", status: "False" },
          ],
        },
      }),
      row("Node", "", "node-silent", { status: { conditions: [{ type: "Ready", status: "Unknown" }] } }),
      row("Node", "", "node-new", { status: {} }),
      row("Pod", "limits", "unlimited", { spec: { containers: [{ name: "a" }] } }),
      row("Pod", "limits", "limited", {
        spec: { containers: [{ name: "a", resources: { limits: { cpu: "1" } } }] },
      }),
      row("Deployment", "limits", "template-unlimited", {
        spec: { replicas: 1, template: { spec: { containers: [{ name: "a" }] } } },
        status: { readyReplicas: 1 },
      }),
    ];
    await applyIndexOps(
      handle.sql,
      rows.map((r) => ({ op: "upsert" as const, row: r })),
    );
  });

  const ask = async (question: string) => {
    const { query, searched: unmatched } = parseNaturalQuery(question, { clusters: ["prod", "c1"] });
    expect(unmatched).toEqual([]);
    return (await searchPostgres(handle.db, query, { limit: 100 })).items
      .map((i) => `${i.cluster}/${i.name}`)
      .sort();
  };

  it.each([
    ["pods not running in prod", ["prod/on-other-cluster"]],
    ["pods not running in namespace prod", ["c1/pending", "prod/on-other-cluster"]],
    ["deployments in payments with fewer ready replicas than desired", ["c1/none-ready", "c1/short"]],
    ["payments 命名空间中副本不足的部署", ["c1/none-ready", "c1/short"]],
    ["过去一小时重启过的 Pod", ["c1/restarted-recently"]],
    ["pods restarted in the last 4 hours", ["c1/restarted-long-ago", "c1/restarted-recently"]],
    ["kube-system 下所有的 DaemonSet", ["c1/kube-proxy"]],
    ["which pods are in error state in shop", ["c1/crashing", "c1/oom"]],
    ["pods on node n1", ["c1/crashing", "c1/fine-on-n1"]],
    ["pods with more than 5 restarts", ["c1/crashing"]],
    ["services of type LoadBalancer", ["c1/public"]],
    ["deployments in shop with 0 available replicas", ["c1/nothing-available"]],
    ["nodes not ready", ["c1/node-new", "c1/node-pressed", "c1/node-silent"]],
    ["ready nodes", ["c1/node-ok"]],
    ["nodes under memory pressure", ["c1/node-pressed"]],
    // Phrasings an SRE types, which once left a word behind as a mandatory search term.
    ["crash-looping pods", ["c1/crashing"]],
    ["shop 中崩溃循环的 Pod", ["c1/crashing"]],
    ["pods stuck in CrashLoopBackOff", ["c1/crashing"]],
    ["一直 Pending 的 Pod", ["c1/pending"]],
    ["payments 命名空间中不健康的部署", ["c1/none-ready", "c1/short"]],
    ["unhealthy deployments in payments", ["c1/none-ready", "c1/short"]],
    ["pods named crash", ["c1/crashing"]],
    ["pods without resource limits in namespace limits", ["c1/unlimited"]],
    ["deployments without limits in namespace limits", ["c1/template-unlimited"]],
  ])("%s", async (question, expected) => {
    expect(await ask(question)).toEqual(expected);
  });

  it("compares a number with a field that holds text without failing the query", async () => {
    const query = parseSqlQuery("SELECT * FROM resources WHERE status.phase > 5");
    expect((await searchPostgres(handle.db, query, { limit: 10 })).items).toEqual([]);
  });

  it.each([
    ["每个命名空间有多少个 Pod", "namespace"],
    ["各命名空间的 Pod 数量", "namespace"],
    ["每个集群有多少个部署", "cluster"],
    ["how many clusters", "cluster"],
    ["where is the healthy deployment running", "cluster"],
  ])("%s counts by %s", async (question, by) => {
    const { query, searched: unmatched } = parseNaturalQuery(question, { clusters: ["prod", "c1"] });
    expect(unmatched).toEqual([]);
    const { aggregations } = await searchPostgres(handle.db, query, { limit: 100 });
    expect(aggregations!.length).toBeGreaterThan(0);
    expect(aggregations!.every((a) => Object.keys(a.key).join() === by)).toBe(true);
  });
});

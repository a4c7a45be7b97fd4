import { describe, expect, it } from "vitest";
import { parseNaturalQuery } from "./natural.js";
import { toSqlText } from "./render.js";
import { parseSqlQuery } from "./sql.js";

const context = { clusters: ["prod-eu", "edge-1"], now: new Date("2026-11-21T12:00:00Z") };

describe("natural-language questions", () => {
  it.each([
    [
      "pods not running in prod",
      "SELECT * FROM resources WHERE namespace = 'prod' AND kind = 'Pod' AND status.phase != 'Running'",
    ],
    [
      "pods not running in prod-eu",
      "SELECT * FROM resources WHERE cluster = 'prod-eu' AND kind = 'Pod' AND status.phase != 'Running'",
    ],
    [
      "deployments in payments with fewer ready replicas than desired",
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Deployment' AND status.readyReplicas < spec.replicas",
    ],
    [
      "过去一小时重启过的 Pod",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.containerStatuses[*].lastState.terminated.finishedAt >= '2026-11-21T11:00:00Z'",
    ],
    [
      "kube-system 下所有的 DaemonSet",
      "SELECT * FROM resources WHERE namespace = 'kube-system' AND kind = 'DaemonSet'",
    ],
    [
      "kube-system下所有的守护进程集",
      "SELECT * FROM resources WHERE namespace = 'kube-system' AND kind = 'DaemonSet'",
    ],
    [
      "crashlooping pods on cluster edge-1",
      "SELECT * FROM resources WHERE cluster = 'edge-1' AND kind = 'Pod' AND status = 'CrashLoopBackOff'",
    ],
    [
      "集群 edge-1 中崩溃的容器组",
      "SELECT * FROM resources WHERE cluster = 'edge-1' AND kind = 'Pod' AND status = 'CrashLoopBackOff'",
    ],
    [
      "deployments created in the last 2 days with label app=web",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND labels['app'] = 'web' AND age < '2d'",
    ],
    ["secrets older than 30 days", "SELECT * FROM resources WHERE kind = 'Secret' AND age > '30d'"],
    [
      "how many pods per namespace",
      "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY namespace",
    ],
    [
      "按命名空间统计 Pod 数量",
      "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY namespace",
    ],
    [
      "pods using image nginx",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (spec.containers[*].image LIKE '%nginx%' OR spec.template.spec.containers[*].image LIKE '%nginx%')",
    ],
    [
      "镜像拉取失败的 Pod",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (status = 'ImagePullBackOff' OR status = 'ErrImagePull')",
    ],
    ["services named api-*", "SELECT * FROM resources WHERE kind = 'Service' AND name LIKE 'api-%'"],
    [
      "pods that have restarted",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.containerStatuses[*].restartCount > 0",
    ],
    ["未运行的 Pod", "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase != 'Running'"],
    [
      "pending pods in all namespaces",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Pending'",
    ],
  ])("%s", (question, sql) => {
    const { query, unmatched } = parseNaturalQuery(question, context);
    expect(unmatched).toEqual([]);
    expect(toSqlText(query)).toBe(sql);
    // The SQL shown to the user is editable: the SQL front end reads it back unchanged.
    expect(toSqlText(parseSqlQuery(sql))).toBe(sql);
  });

  it("keeps words it does not understand as free text, and says which", () => {
    const { query, unmatched } = parseNaturalQuery("pods mentioning checkout in payments", context);
    expect(unmatched).toEqual(["mentioning", "checkout"]);
    expect(toSqlText(query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Pod' AND search('mentioning checkout')",
    );
  });

  it("never throws on arbitrary text", () => {
    for (const text of [
      "",
      "   ",
      "in",
      "with label =",
      "过去",
      "'; drop table resources; --",
      "名为",
      "older than",
    ]) {
      expect(() => parseNaturalQuery(text, context)).not.toThrow();
    }
  });
});

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
      "how many pods per cluster",
      "SELECT cluster, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY cluster",
    ],
    ["每个集群的 Pod 数量", "SELECT cluster, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY cluster"],
    [
      "pods per namespace in cluster edge-1",
      "SELECT namespace, COUNT(*) FROM resources WHERE cluster = 'edge-1' AND kind = 'Pod' GROUP BY namespace",
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
      "SELECT * FROM resources WHERE kind = 'Pod' AND status IN ('ImagePullBackOff', 'ErrImagePull')",
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
    const { query, searched: unmatched } = parseNaturalQuery(question, context);
    expect(unmatched).toEqual([]);
    expect(toSqlText(query)).toBe(sql);
    // The SQL shown to the user is editable: the SQL front end reads it back unchanged.
    expect(toSqlText(parseSqlQuery(sql))).toBe(sql);
  });

  const ERRORS =
    "status IN ('Failed', 'Error', 'CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'OOMKilled', 'Evicted', 'ContainerStatusUnknown')";
  it.each([
    ["which pods are in error state", `SELECT * FROM resources WHERE kind = 'Pod' AND ${ERRORS}`],
    [
      "unhealthy pods in shop",
      `SELECT * FROM resources WHERE namespace = 'shop' AND kind = 'Pod' AND ${ERRORS}`,
    ],
    ["异常的 Pod", `SELECT * FROM resources WHERE kind = 'Pod' AND ${ERRORS}`],
    ["pods on node node-1", "SELECT * FROM resources WHERE kind = 'Pod' AND spec.nodeName = 'node-1'"],
    ["节点 node-1 上的 Pod", "SELECT * FROM resources WHERE kind = 'Pod' AND spec.nodeName = 'node-1'"],
    ["everything on node n1", "SELECT * FROM resources WHERE kind = 'Pod' AND spec.nodeName = 'n1'"],
    ["jobs on node n1", "SELECT * FROM resources WHERE kind = 'Job' AND spec.nodeName = 'n1'"],
    [
      "services of type LoadBalancer",
      "SELECT * FROM resources WHERE kind = 'Service' AND spec.type = 'LoadBalancer'",
    ],
    ["类型为 NodePort 的服务", "SELECT * FROM resources WHERE kind = 'Service' AND spec.type = 'NodePort'"],
    [
      "pods with more than 5 restarts",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.containerStatuses[*].restartCount > 5",
    ],
    [
      "pods restarted more than three times in shop",
      "SELECT * FROM resources WHERE namespace = 'shop' AND kind = 'Pod' AND status.containerStatuses[*].restartCount > 3",
    ],
    [
      "pods with at least 2 restarts",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.containerStatuses[*].restartCount >= 2",
    ],
    [
      "重启次数超过 3 次的 Pod",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.containerStatuses[*].restartCount > 3",
    ],
    [
      "deployments with 0 available replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND spec.replicas > 0 AND (status.availableReplicas IS NULL OR status.availableReplicas = 0)",
    ],
    [
      "prod-eu 集群中处于 Pending 状态的 pod",
      "SELECT * FROM resources WHERE cluster = 'prod-eu' AND kind = 'Pod' AND status.phase = 'Pending'",
    ],
    ["nodes not ready", "SELECT * FROM resources WHERE kind = 'Node' AND condition('Ready') != 'True'"],
    ["未就绪的节点", "SELECT * FROM resources WHERE kind = 'Node' AND condition('Ready') != 'True'"],
    [
      "ready pods in shop",
      "SELECT * FROM resources WHERE namespace = 'shop' AND kind = 'Pod' AND condition('Ready') = 'True'",
    ],
    [
      "deployments not ready",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND status.readyReplicas < spec.replicas",
    ],
    [
      "daemonsets not ready",
      "SELECT * FROM resources WHERE kind = 'DaemonSet' AND status.numberReady < status.desiredNumberScheduled",
    ],
    [
      "nodes under memory pressure",
      "SELECT * FROM resources WHERE kind = 'Node' AND condition('MemoryPressure') = 'True'",
    ],
    ["磁盘压力的节点", "SELECT * FROM resources WHERE kind = 'Node' AND condition('DiskPressure') = 'True'"],
    [
      "deployments with more than 3 replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND spec.replicas > 3",
    ],
    [
      "statefulsets with a single replica",
      "SELECT * FROM resources WHERE kind = 'StatefulSet' AND spec.replicas = 1",
    ],
    [
      // Kubernetes leaves out a count of zero: a missing one is fewer than two.
      "deployments with fewer than 2 ready replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND (status.readyReplicas IS NULL OR status.readyReplicas < 2)",
    ],
    [
      "deployments with at least two available replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND status.availableReplicas >= 2",
    ],
    ["副本数超过 3 的 Deployment", "SELECT * FROM resources WHERE kind = 'Deployment' AND spec.replicas > 3"],
    [
      "少于 2 个可用副本的部署",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND (status.availableReplicas IS NULL OR status.availableReplicas < 2)",
    ],
    [
      "privileged pods",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (spec.containers[*].securityContext.privileged = true OR spec.template.spec.containers[*].securityContext.privileged = true)",
    ],
    [
      "特权容器",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (spec.containers[*].securityContext.privileged = true OR spec.template.spec.containers[*].securityContext.privileged = true)",
    ],
    [
      "daemonsets using host network",
      "SELECT * FROM resources WHERE kind = 'DaemonSet' AND (spec.hostNetwork = true OR spec.template.spec.hostNetwork = true)",
    ],
    [
      "使用主机 PID 的 Pod",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (spec.hostPID = true OR spec.template.spec.hostPID = true)",
    ],
    [
      "top 5 namespaces by pod count",
      "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY namespace LIMIT 5",
    ],
    [
      "which cluster has the most deployments",
      "SELECT cluster, COUNT(*) FROM resources WHERE kind = 'Deployment' GROUP BY cluster LIMIT 1",
    ],
    [
      "Pod 最多的 3 个命名空间",
      "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY namespace LIMIT 3",
    ],
    [
      "Pod 数量前五的集群",
      "SELECT cluster, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY cluster LIMIT 5",
    ],
    [
      "deployments not available",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND condition('Available') != 'True'",
    ],
    [
      "what is running on node-1",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Running' AND spec.nodeName = 'node-1'",
    ],
    [
      "pods on ip-10-0-1-5.ec2.internal",
      "SELECT * FROM resources WHERE kind = 'Pod' AND spec.nodeName = 'ip-10-0-1-5.ec2.internal'",
    ],
    ["pods on edge-1", "SELECT * FROM resources WHERE cluster = 'edge-1' AND kind = 'Pod'"],
    ["services on shop", "SELECT * FROM resources WHERE namespace = 'shop' AND kind = 'Service'"],
    // Known namespaces decide what "in X" means: an unknown X is searched for, not taken as a namespace.
    ["pods in shop", "SELECT * FROM resources WHERE namespace = 'shop' AND kind = 'Pod'"],
    ["pods in prod-eu", "SELECT * FROM resources WHERE cluster = 'prod-eu' AND kind = 'Pod'"],
  ])("%s (namespaces known)", (question, sql) => {
    const { query, searched: unmatched } = parseNaturalQuery(question, {
      ...context,
      namespaces: ["shop", "kube-system"],
    });
    expect(unmatched).toEqual([]);
    expect(toSqlText(query)).toBe(sql);
    expect(toSqlText(parseSqlQuery(sql))).toBe(sql);
  });

  it("keeps a hyphenated name whole instead of reading a kind inside it", () => {
    const { query, searched: unmatched } = parseNaturalQuery("pods in node-1", {
      ...context,
      namespaces: ["shop"],
    });
    expect(unmatched).toEqual(["node-1"]);
    expect(toSqlText(query)).toBe("SELECT * FROM resources WHERE kind = 'Pod' AND search('node-1')");
  });

  it("searches for an unknown name after in, and says so, when the namespaces are known", () => {
    const known = { ...context, namespaces: ["shop"] };
    const { query, searched: unmatched } = parseNaturalQuery("pods not running in staging", known);
    expect(unmatched).toEqual(["staging"]);
    expect(toSqlText(query)).toBe(
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase != 'Running' AND search('staging')",
    );
    // Without that knowledge the name is taken as a namespace, as before.
    expect(toSqlText(parseNaturalQuery("pods not running in staging", context).query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'staging' AND kind = 'Pod' AND status.phase != 'Running'",
    );
  });

  it("keeps words it does not understand as free text, and says which", () => {
    const { query, searched: unmatched } = parseNaturalQuery("pods mentioning checkout in payments", context);
    expect(unmatched).toEqual(["mentioning", "checkout"]);
    expect(toSqlText(query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Pod' AND search('mentioning checkout')",
    );
  });

  it("searches only for the leftover words the fleet holds, and reports the others as ignored", () => {
    const question = "pods mentioning checkout in payments";
    const answer = parseNaturalQuery(question, { ...context, knownWords: new Set(["checkout"]) });
    expect(answer.searched).toEqual(["checkout"]);
    expect(answer.ignored).toEqual(["mentioning"]);
    expect(toSqlText(answer.query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Pod' AND search('checkout')",
    );
    // A word nobody's objects hold would only empty the answer: it is left out, and said so.
    const unknown = parseNaturalQuery("一直 Pending 的 Pod 哟", { ...context, knownWords: new Set() });
    expect(unknown.searched).toEqual([]);
    expect(unknown.ignored).toEqual(["哟"]);
    expect(toSqlText(unknown.query)).toBe(
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Pending'",
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

/** The fleet a question is read against: what the query service gathers from the index. */
const fleet = {
  clusters: ["prod-east", "prod-west"],
  namespaces: ["payments", "checkout", "kube-system", "default"],
  nodes: ["node-1", "node-3"],
  labels: { team: ["payments", "growth"], "topology.kubernetes.io/zone": ["zone-a", "zone-b"], app: ["api"] },
  images: ["redis", "nginx"],
  now: new Date("2026-11-21T12:00:00Z"),
};

describe("the six ways questions were misread (issue 24)", () => {
  it.each([
    // 1. Leftover words no longer become required search terms.
    [
      "show me the pods stuck in CrashLoopBackOff",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status = 'CrashLoopBackOff'",
    ],
    ["一直 Pending 的 Pod", "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Pending'"],
    // 2. Grouping, counting and top-N.
    [
      "how many deployments does each team run",
      "SELECT labels['team'], COUNT(*) FROM resources WHERE kind = 'Deployment' GROUP BY labels['team']",
    ],
    [
      "Pod 数量排名前两位的命名空间",
      "SELECT namespace, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY namespace LIMIT 2",
    ],
    [
      "哪个节点上的 Pod 最多",
      "SELECT spec.nodeName, COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY spec.nodeName LIMIT 1",
    ],
    // 3. Known ideas in other words.
    [
      "pods that cannot pull their image",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status IN ('ImagePullBackOff', 'ErrImagePull')",
    ],
    [
      "pods pending for lack of resources",
      "SELECT * FROM resources WHERE kind = 'Pod' AND status.phase = 'Pending' AND status = 'Unschedulable'",
    ],
    [
      "pods using the redis image",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (spec.containers[*].image LIKE '%redis%' OR spec.template.spec.containers[*].image LIKE '%redis%')",
    ],
    // 4. Labels said in plain words.
    [
      "the payments team's deployments",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND labels['team'] = 'payments'",
    ],
    ["属于 growth 团队的 Pod", "SELECT * FROM resources WHERE kind = 'Pod' AND labels['team'] = 'growth'"],
    [
      "nodes in zone-b",
      "SELECT * FROM resources WHERE kind = 'Node' AND labels['topology.kubernetes.io/zone'] = 'zone-b'",
    ],
    // 5. Clusters and namespaces wherever they are said.
    [
      "deployments in prod-east and prod-west",
      "SELECT * FROM resources WHERE (cluster = 'prod-east' OR cluster = 'prod-west') AND kind = 'Deployment'",
    ],
    [
      "除了 kube-system 以外的 Pod",
      "SELECT * FROM resources WHERE NOT namespace = 'kube-system' AND kind = 'Pod'",
    ],
    ["checkout deployments", "SELECT * FROM resources WHERE namespace = 'checkout' AND kind = 'Deployment'"],
    // 6. Conditions kept the right way round and joined as said.
    [
      "deployments short of ready replicas",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND status.readyReplicas < spec.replicas",
    ],
    ["pods not on node-3", "SELECT * FROM resources WHERE kind = 'Pod' AND NOT spec.nodeName = 'node-3'"],
    [
      "pods that are pending or crash looping",
      "SELECT * FROM resources WHERE kind = 'Pod' AND (status.phase = 'Pending' OR status = 'CrashLoopBackOff')",
    ],
    ["pods on node-3", "SELECT * FROM resources WHERE kind = 'Pod' AND spec.nodeName = 'node-3'"],
    // Ownership reads as SQL that reads back.
    [
      "pods of deployment api",
      "SELECT * FROM resources WHERE kind = 'Pod' AND owned_by('Deployment', 'api', 2)",
    ],
  ])("%s", (question, sql) => {
    const read = parseNaturalQuery(question, fleet);
    expect(toSqlText(read.query)).toBe(sql);
    expect(read.searched).toEqual([]);
    expect(toSqlText(parseSqlQuery(sql))).toBe(sql);
  });

  it("reports the words it could not place instead of searching for them", () => {
    // The index holds no "wobbling" (the query service looks each leftover word up).
    const read = parseNaturalQuery("pods wobbling in payments", { ...fleet, knownWords: new Set<string>() });
    expect(toSqlText(read.query)).toBe(
      "SELECT * FROM resources WHERE namespace = 'payments' AND kind = 'Pod'",
    );
    expect(read.ignored).toEqual(["wobbling"]);
  });
});

describe("bounded reading", () => {
  const labels: Record<string, string[]> = {};
  for (let k = 0; k < 50; k++) labels[`key${k}`] = Array.from({ length: 1000 }, (_, i) => `v${k}-${i}`);
  const big = {
    clusters: Array.from({ length: 2000 }, (_, i) => `c${i}`),
    namespaces: Array.from({ length: 5000 }, (_, i) => `ns${i}`),
    nodes: Array.from({ length: 5000 }, (_, i) => `node-${i}`),
    labels,
  };
  /** The fastest of a few readings, in ms: the machine's noise only ever adds time. */
  const fastest = (text: string) => {
    let best = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 5; run++) {
      const start = performance.now();
      parseNaturalQuery(text, big);
      best = Math.min(best, performance.now() - start);
    }
    return best;
  };

  it.each([
    ["spaces", " "],
    ["one-letter words", "a "],
    ["negations", "not "],
    ["label values beside their key", "team v1-1 "],
    ["alternatives", "ns1 or "],
    ["Chinese negations", "除了不在没有的"],
    ["hyphenated words", "a-"],
    ["a whole question", "pods in ns1 except ns2 and node-3 or team v3-4 which node has the most "],
  ])("grows linearly with a question of repeated %s", (_, unit) => {
    const of = (chars: number) => unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
    // Four times the text may take four times as long; a quadratic step would take sixteen.
    expect(fastest(of(16_384)) / Math.max(fastest(of(4_096)), 1)).toBeLessThan(8);
  });
});

describe("reasons the fleet's statuses give", () => {
  it("reads a reason the index holds, in any case, as a status", () => {
    const read = parseNaturalQuery("jobs with backofflimitexceeded", {
      ...fleet,
      reasons: ["backofflimitexceeded"],
      knownWords: new Set<string>(),
    });
    expect(toSqlText(read.query)).toBe(
      "SELECT * FROM resources WHERE kind = 'Job' AND status = 'backofflimitexceeded'",
    );
    expect(read.ignored).toEqual([]);
  });
});

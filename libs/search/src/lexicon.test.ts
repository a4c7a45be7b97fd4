import { describe, expect, it } from "vitest";
import { LANGUAGES, LEXICONS } from "./lexicon.js";
import { CONCEPT_ORDER, parseNaturalQuery } from "./natural.js";
import { toSqlText } from "./render.js";

/** One way each language says each concept, and what the answer's SQL must then hold. */
const CONCEPT_TABLE: [string, string, string, string][] = [
  ["crashLoop", "pods that keep crashing", "一直崩溃的 Pod", "status = 'CrashLoopBackOff'"],
  [
    "imagePull",
    "pods that cannot pull their image",
    "镜像拉不下来的 Pod",
    "status IN ('ImagePullBackOff', 'ErrImagePull')",
  ],
  ["oomKilled", "pods that ran out of memory", "内存溢出的 Pod", "lastState.terminated.reason = 'OOMKilled'"],
  ["evicted", "evicted pods", "被驱逐的 Pod", "status = 'Evicted'"],
  ["unschedulable", "pods waiting to be scheduled", "等待调度的 Pod", "status = 'Unschedulable'"],
  ["configError", "pods with config errors", "配置错误的 Pod", "status = 'CreateContainerConfigError'"],
  ["containerCreating", "pods stuck creating containers", "创建容器中的 Pod", "status = 'ContainerCreating'"],
  ["errorState", "broken pods", "故障的 Pod", "status IN ('Failed', 'Error', 'CrashLoopBackOff'"],
  ["failed", "failed jobs", "失败的任务", "condition('Failed') = 'True'"],
  ["pending", "pending pods", "挂起的 Pod", "status.phase = 'Pending'"],
  ["running", "running pods", "正在运行的 Pod", "status.phase = 'Running'"],
  ["succeeded", "completed pods", "已完成的 Pod", "status.phase = 'Succeeded'"],
  ["notRunning", "pods not running", "没在运行的 Pod", "status.phase != 'Running'"],
  ["notPending", "pods that aren't pending", "不是 Pending 的 Pod", "'Pending'"],
  ["notSucceeded", "pods not completed", "未完成的 Pod", "'Succeeded'"],
  ["notBound", "unbound pvcs", "未绑定的存储卷声明", "status.phase != 'Bound'"],
  ["suspended", "paused cronjobs", "被暂停的定时任务", "spec.suspend = true"],
  ["noLimits", "pods with no memory limits", "没有资源限制的 Pod", "resources.limits IS NULL"],
  ["noRequests", "pods without requests", "未设置资源请求的 Pod", "resources.requests IS NULL"],
  ["privileged", "privileged pods", "特权容器", "securityContext.privileged = true"],
  ["hostNetwork", "pods on the host network", "使用主机网络的 Pod", "hostNetwork = true"],
  ["hostPID", "pods using host pid", "使用主机进程的 Pod", "hostPID = true"],
  [
    "underReplicated",
    "under-replicated deployments",
    "副本不够的部署",
    "status.readyReplicas < spec.replicas",
  ],
  [
    "noneAvailable",
    "deployments with zero available replicas",
    "没有可用副本的部署",
    "status.availableReplicas IS NULL",
  ],
  ["notReady", "nodes that stopped reporting", "失联的节点", "condition('Ready') != 'True'"],
  ["ready", "ready pods", "已就绪的 Pod", "condition('Ready') = 'True'"],
  ["unavailable", "unavailable deployments", "不可用的部署", "condition('Available') != 'True'"],
  ["memoryPressure", "nodes under memory pressure", "内存压力的节点", "condition('MemoryPressure') = 'True'"],
  ["diskPressure", "nodes with disk pressure", "磁盘压力的节点", "condition('DiskPressure') = 'True'"],
  ["pidPressure", "nodes with pid pressure", "PID 压力的节点", "condition('PIDPressure') = 'True'"],
  ["unhealthy", "unhealthy deployments", "不健康的部署", "status.readyReplicas < spec.replicas"],
  ["neverRestarted", "pods that never restarted", "从未重启的 Pod", "restartCount = 0"],
  ["restarted", "pods that have restarted", "重启过的 Pod", "restartCount > 0"],
  [
    "lastExitError",
    "pods whose last exit was an error",
    "异常退出的 Pod",
    "lastState.terminated.reason = 'Error'",
  ],
];

describe("the language tables", () => {
  it("give every concept a meaning and the reader an order for each", () => {
    for (const language of LANGUAGES)
      for (const concept of Object.keys(LEXICONS[language].concepts))
        expect(CONCEPT_ORDER).toContain(concept);
    expect(CONCEPT_TABLE.map(([concept]) => concept).sort()).toEqual([...CONCEPT_ORDER].sort());
  });

  it("compile: every phrase is a valid regular expression that matches no empty text", () => {
    for (const language of LANGUAGES) {
      const lexicon = LEXICONS[language];
      const phrases = [
        ...Object.values(lexicon.concepts).flat(),
        ...Object.values(lexicon.labelKeys).flat(),
        ...Object.values(lexicon.groupFields).flat(),
        ...lexicon.negations,
        ...lexicon.disjunctions,
        ...lexicon.conjunctions,
      ];
      for (const phrase of phrases) expect(new RegExp(`^(?:${phrase})$`, "i").test("")).toBe(false);
    }
  });

  it.each(CONCEPT_TABLE)("%s reads the same in English and Chinese", (_, english, chinese, sql) => {
    for (const question of [english, chinese]) {
      const read = parseNaturalQuery(question);
      expect(toSqlText(read.query), question).toContain(sql);
      expect(read.ignored, question).toEqual([]);
    }
  });
});

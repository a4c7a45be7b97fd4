import { BUILTIN_RESOURCE_TYPES, parseLabelSelector, SelectorError } from "@atoll/kube";
import { and, type Comparison, type Condition, column, type Field, type Query, type Scalar } from "./ir.js";
import { nameCondition } from "./keyword.js";

/** What the rule parser knows about the fleet, so "in prod" can mean a cluster or a namespace. */
export interface NaturalContext {
  clusters?: readonly string[];
  /**
   * The namespaces the asker can see. When given, "in X" names a namespace only if X is one of
   * them; otherwise X stays a search word, so "pods in error" does not look for a namespace "error".
   */
  namespaces?: readonly string[];
  /**
   * Of the words no rule explains, those the fleet's index holds (found by a text search within
   * the asker's grants): names or values, worth searching for. When given, every other leftover
   * word is ignored and reported rather than made a required search term that would empty the
   * answer. Without it, every leftover word is searched for.
   */
  knownWords?: ReadonlySet<string>;
  now?: Date;
}

export interface NaturalParse {
  query: Query;
  /** Words no rule explains that were searched for as free text (names or values). */
  searched: string[];
  /** Words no rule explains and the index does not hold: left out of the query. */
  ignored: string[];
}

interface State {
  context: NaturalContext;
  scope: Condition[];
  kinds: string[];
  filters: Condition[];
  /** "in the last hour": applies to restarts when the question mentions them, else to creation. */
  window?: number;
  olderThan?: number;
  restarted: boolean;
  /** "ready" or "not ready": what it means depends on the kinds, known only at the end. */
  readiness?: "ready" | "notReady";
  /** The kind a phrase implies ("on node n1": pods) when the question names none. */
  defaultKind?: string;
  count: boolean;
  groupBy: Field[];
  /** "top 5 namespaces by pods": how many groups to return. */
  limit?: number;
  /** "unhealthy": not ready for workloads, failing for pods; known only once the kinds are. */
  unhealthy?: boolean;
}

const path = (dotted: string): Field => ({ kind: "path", segments: dotted.split(".") });
const equals = (field: Field, value: Scalar): Condition => ({ type: "compare", field, op: "=", value });
const status = (value: string): Condition => ({ type: "status", value });
const phase = (value: string): Condition => equals(path("status.phase"), value);
const NAME = "([a-z0-9][a-z0-9.-]*)";

const UNIT_SECONDS: [RegExp, number][] = [
  [/^(s|sec|second|秒)/i, 1],
  [/^(m|min|minute|分)/i, 60],
  [/^(h|hr|hour|小时|钟头)/i, 3600],
  [/^(d|day|天|日)/i, 86_400],
  [/^(w|week|周|星期|礼拜)/i, 604_800],
];
const EN_NUMBERS: Record<string, number> = {
  a: 1,
  an: 1,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  twelve: 12,
  "half an": 0.5,
  "half a": 0.5,
};
const ZH_DIGITS: Record<string, number> = {
  一: 1,
  二: 2,
  两: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
};

/** "3", "three", "半", "十二", "二十四"; a missing number means one ("the last hour", "过去一天"). */
function amount(text: string | undefined): number {
  if (!text) return 1;
  const trimmed = text.trim().toLowerCase();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (trimmed in EN_NUMBERS) return EN_NUMBERS[trimmed]!;
  if (trimmed === "半") return 0.5;
  const [tens, ones] = trimmed.includes("十") ? trimmed.split("十") : ["", trimmed];
  const tensValue = trimmed.includes("十") ? (tens ? (ZH_DIGITS[tens] ?? 1) : 1) * 10 : 0;
  return tensValue + (ones ? (ZH_DIGITS[ones] ?? 0) : 0);
}

function duration(count: string | undefined, unit: string): number {
  const seconds = UNIT_SECONDS.find(([pattern]) => pattern.test(unit))?.[1] ?? 3600;
  return Math.round(amount(count) * seconds);
}

const EN_AMOUNT = "(\\d+|half an?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)?";
const ZH_AMOUNT = "(\\d+|[一二两三四五六七八九十半]+)?";
const EN_UNIT = "(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)";
const ZH_UNIT = "(秒钟?|分钟|小时|钟头|天|日|周|星期|礼拜)";

const ZH_KINDS: [string, string][] = [
  ["服务账号|服务账户", "ServiceAccount"],
  ["定时任务|计划任务|周期任务", "CronJob"],
  ["守护进程集|守护进程", "DaemonSet"],
  ["有状态副本集|有状态应用|有状态负载", "StatefulSet"],
  ["无状态应用|无状态负载|部署", "Deployment"],
  ["副本集", "ReplicaSet"],
  ["容器组", "Pod"],
  ["任务|作业", "Job"],
  ["服务", "Service"],
  ["节点", "Node"],
  ["配置项|配置映射|配置字典", "ConfigMap"],
  ["密钥|秘钥|保密字典", "Secret"],
  ["持久卷声明|存储卷声明", "PersistentVolumeClaim"],
  ["持久卷", "PersistentVolume"],
  ["入口|路由规则", "Ingress"],
  ["事件", "Event"],
  ["自动扩缩容?|水平扩缩容?", "HorizontalPodAutoscaler"],
  ["命名空间", "Namespace"],
];

const EXTRA_KIND_WORDS: Record<string, string> = {
  svc: "Service",
  deploy: "Deployment",
  cm: "ConfigMap",
  pvc: "PersistentVolumeClaim",
  pvcs: "PersistentVolumeClaim",
  hpa: "HorizontalPodAutoscaler",
  hpas: "HorizontalPodAutoscaler",
  sts: "StatefulSet",
  ds: "DaemonSet",
  crd: "CustomResourceDefinition",
  crds: "CustomResourceDefinition",
  workloads: "",
};

/** Kind names and plural resource names only: short names such as "no" or "po" are common words. */
function kindOfWord(word: string): string | undefined {
  const lower = word.toLowerCase();
  if (lower in EXTRA_KIND_WORDS) return EXTRA_KIND_WORDS[lower];
  return BUILTIN_RESOURCE_TYPES.find(
    (t) => t.kind.toLowerCase() === lower || t.resource === lower || `${t.kind.toLowerCase()}s` === lower,
  )?.kind;
}

const GROUPS: Record<string, Field> = {
  cluster: column("cluster"),
  clusters: column("cluster"),
  集群: column("cluster"),
  namespace: column("namespace"),
  namespaces: column("namespace"),
  命名空间: column("namespace"),
  名字空间: column("namespace"),
  kind: column("kind"),
  kinds: column("kind"),
  type: column("kind"),
  types: column("kind"),
  类型: column("kind"),
  种类: column("kind"),
};

/** "in X": a kind, a cluster or a namespace; false leaves X in the text when it is none of them. */
function inScope(state: State, name: string): boolean {
  if (kindOfWord(name) !== undefined) {
    state.kinds.push(kindOfWord(name)!);
    return true;
  }
  if (state.context.clusters?.includes(name)) {
    state.scope.push(equals(column("cluster"), name));
    return true;
  }
  if (state.context.namespaces && !state.context.namespaces.includes(name)) return false;
  state.scope.push(equals(column("namespace"), name));
  return true;
}

function imageCondition(image: string): Condition {
  const pattern = `%${image.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
  const like = (dotted: string): Condition => ({
    type: "like",
    field: path(dotted),
    pattern,
    negated: false,
    caseInsensitive: false,
  });
  return { type: "or", of: [like("spec.containers.*.image"), like("spec.template.spec.containers.*.image")] };
}

function containsName(text: string): Condition {
  return {
    type: "like",
    field: column("name"),
    pattern: `%${text.replace(/[%_\\]/g, (c) => `\\${c}`)}%`,
    negated: false,
    caseInsensitive: true,
  };
}

const fewerReadyThanDesired: Condition = {
  type: "compareFields",
  left: path("status.readyReplicas"),
  op: "<",
  right: path("spec.replicas"),
};

/** Every reason kubectl's STATUS column shows for a pod that is failing, rather than starting or done. */
const ERROR_REASONS = [
  "Failed",
  "Error",
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
  "OOMKilled",
  "Evicted",
  "ContainerStatusUnknown",
];

const SERVICE_TYPES = ["LoadBalancer", "NodePort", "ClusterIP", "ExternalName"];

const restartCount = (op: ">" | ">=", count: string | undefined): Condition => ({
  type: "compare",
  field: path("status.containerStatuses.*.restartCount"),
  op,
  value: amount(count),
});

/** A workload that wants replicas and has none available: the field is absent until one is. */
const noneAvailable: Condition = {
  type: "and",
  of: [
    { type: "compare", field: path("spec.replicas"), op: ">", value: 0 },
    {
      type: "or",
      of: [
        { type: "null", field: path("status.availableReplicas"), negated: false },
        { type: "compare", field: path("status.availableReplicas"), op: "=", value: 0 },
      ],
    },
  ],
};

/** Comparison words, English and Chinese, as the operator they mean before a number. */
const COMPARISONS: [RegExp, Comparison][] = [
  [/^(?:more than|over|above|greater than|超过|大于|多于|高于)$/, ">"],
  [/^(?:at least|no fewer than|不少于|至少|不低于)$/, ">="],
  [/^(?:fewer than|less than|under|below|少于|小于|低于)$/, "<"],
  [/^(?:at most|no more than|不超过|至多)$/, "<="],
];
const EN_COMPARISON =
  "(more\\s+than|over|above|greater\\s+than|at\\s+least|no\\s+fewer\\s+than|fewer\\s+than|less\\s+than|under|below|at\\s+most|no\\s+more\\s+than|exactly)";
const ZH_COMPARISON = "(超过|大于|多于|高于|不少于|至少|不低于|少于|小于|低于|不超过|至多|为|是|等于)";

function comparisonOf(words: string | undefined): Comparison {
  const normal = (words ?? "").toLowerCase().replace(/\s+/g, " ");
  return COMPARISONS.find(([pattern]) => pattern.test(normal))?.[1] ?? "=";
}

/**
 * "3 replicas" is what the workload asks for; "3 ready replicas" what it has, where Kubernetes
 * leaves out a count of zero, so a comparison that zero satisfies also takes a missing count.
 */
function replicaCount(qualifier: string | undefined, op: Comparison, count: string | undefined): Condition {
  const value = amount(count);
  const compare = (field: string): Condition => ({ type: "compare", field: path(field), op, value });
  const status = /ready|就绪/i.test(qualifier ?? "")
    ? "status.readyReplicas"
    : /available|可用/i.test(qualifier ?? "")
      ? "status.availableReplicas"
      : undefined;
  if (!status) return compare("spec.replicas");
  const zeroMatches = {
    "=": value === 0,
    "!=": value !== 0,
    "<": value > 0,
    "<=": value >= 0,
    ">": false,
    ">=": value <= 0,
  }[op];
  return zeroMatches
    ? { type: "or", of: [{ type: "null", field: path(status), negated: false }, compare(status)] }
    : compare(status);
}

/** Set in a pod's containers, or in a workload's pod template. */
function inContainers(setting: string, value: Scalar): Condition {
  return {
    type: "or",
    of: ["spec.containers.*", "spec.template.spec.containers.*"].map((prefix) =>
      equals(path(`${prefix}.${setting}`), value),
    ),
  };
}

/** Set in a pod's spec, or in a workload's pod template. */
function inPodSpec(setting: string, value: Scalar): Condition {
  return {
    type: "or",
    of: ["spec", "spec.template.spec"].map((prefix) => equals(path(`${prefix}.${setting}`), value)),
  };
}

/** Kinds whose readiness is a count of ready replicas against the desired number. */
const REPLICATED_KINDS = ["Deployment", "StatefulSet", "ReplicaSet"];

/**
 * Readiness as each kind reports it: replicated workloads count ready replicas, daemon sets count
 * ready nodes, and everything else (pods, nodes) has a Ready condition.
 */
function readinessOf(kinds: string[], ready: boolean): Condition {
  const fewer = (left: string, right: string): Condition => ({
    type: "compareFields",
    left: path(left),
    op: "<",
    right: path(right),
  });
  let notReady: Condition | undefined;
  if (kinds.length > 0 && kinds.every((k) => REPLICATED_KINDS.includes(k))) notReady = fewerReadyThanDesired;
  else if (kinds.length === 1 && kinds[0] === "DaemonSet")
    notReady = fewer("status.numberReady", "status.desiredNumberScheduled");
  if (notReady) return ready ? { type: "not", of: notReady } : notReady;
  return { type: "condition", name: "Ready", status: "True", negated: !ready };
}

/** A rule records what its phrase means; returning false leaves the phrase in the text, unexplained. */
type Rule = [RegExp, (state: State, ...groups: (string | undefined)[]) => unknown];

/**
 * Each rule recognises a phrase, English or Chinese, and records what it means; the phrase is then
 * removed so later rules see only what is left. Order matters: longer and more specific phrases
 * come first ("not running" before "running", "in the last hour" before "in <namespace>").
 */
const RULES: Rule[] = [
  [
    /\b(?:in|across|from)\s+(?:all|every|any)\s+(?:namespaces|clusters)\b|所有(?:的)?(?:命名空间|集群)/gi,
    () => {},
  ],
  // "top 5 namespaces by pods", "which cluster has the most pods", "Pod 最多的 3 个命名空间".
  [
    new RegExp(
      `\\btop\\s+${EN_AMOUNT}\\s*(cluster|namespace|kind)s?\\s+(?:by|with\\s+the\\s+most)\\b|\\b(?:which|what)\\s+(cluster|namespace|kind)s?\\s+(?:has|have)\\s+the\\s+most\\b|最多的?\\s*(?:前)?\\s*${ZH_AMOUNT}\\s*个?\\s*(集群|命名空间|名字空间)|(?:数量)?(?:排名)?前\\s*${ZH_AMOUNT}\\s*(?:名|个)?的?\\s*(集群|命名空间|名字空间)`,
      "gi",
    ),
    (s, n, group, which, zhN, zhGroup, topN, topGroup) => {
      s.count = true;
      s.groupBy.push(GROUPS[(group ?? which ?? zhGroup ?? topGroup)!.toLowerCase()]!);
      const count = n ?? zhN ?? topN;
      s.limit = count ? amount(count) : 1;
    },
  ],
  // A name comes before every other rule: "pods named crash" names a pod, not a crash loop.
  [
    /\b(?:named|called)\s+["']?([\w.*-]+)["']?|(?:名为|名叫|叫做|名字(?:是|为)|名称(?:是|为))\s*["“]?([\w.*-]+)["”]?/gi,
    // A name given plainly is matched as kubectl users search, inside the name (pods named api:
    // api-7d9f-x2); with * it is a pattern.
    (s, a, b) => s.filters.push((a ?? b)!.includes("*") ? nameCondition((a ?? b)!) : containsName((a ?? b)!)),
  ],
  // "how many clusters": one group per cluster, whose number is the answer.
  [
    /\bhow\s+many\s+(clusters|namespaces)\b|(?:有)?多少个?\s*(集群|命名空间)(?=\s|$|？|\?)/gi,
    (s, a, b) => {
      s.count = true;
      s.groupBy.push(GROUPS[(a ?? b)!.toLowerCase()]!);
    },
  ],
  // "where is the api deployment running": the clusters it runs in, not a phase.
  [
    /\bwhere\s+(?:is|are)\s+(?:the\s+)?([\w.-]+)\s+(deployment|statefulset|daemonset|service|pod|job|cronjob)s?\s+(?:running|deployed|placed)\b|([\w.-]+)\s*(?:这个)?\s*(部署|服务|应用)?\s*(?:运行|部署)在哪(?:些|个|里)?(?:集群)?/gi,
    (s, name, kind, zhName, zhKind) => {
      s.count = true;
      s.groupBy.push(column("cluster"));
      s.filters.push(containsName((name ?? zhName)!));
      const word = kind ?? zhKind;
      const resolved = word
        ? (kindOfWord(word) ?? ZH_KINDS.find(([words]) => new RegExp(`^(?:${words})$`).test(word))?.[1])
        : undefined;
      s.kinds.push(resolved || "Deployment");
    },
  ],
  // Before the scope rules, which would read "per cluster" as a cluster named "per".
  [
    /\b(?:per|by|grouped\s+by|for\s+each|in\s+each)\s+(cluster|namespace|kind|type)s?\b|(?:按照?|每个|各个?)\s*(集群|命名空间|名字空间|类型|种类)(?:分组|统计)?/gi,
    (s, a, b) => {
      s.count = true;
      s.groupBy.push(GROUPS[(a ?? b)!.toLowerCase()]!);
    },
  ],
  [
    new RegExp(
      `\\b(?:created\\s+)?(?:in|within|during|over)?\\s*(?:the\\s+)?(?:last|past)\\s+${EN_AMOUNT}\\s*${EN_UNIT}\\b`,
      "gi",
    ),
    (s, n, unit) => (s.window = duration(n, unit!)),
  ],
  [
    new RegExp(`(?:在)?(?:过去|最近|近)\\s*${ZH_AMOUNT}\\s*个?\\s*${ZH_UNIT}(?:内|之内|以内|里)?`, "g"),
    (s, n, unit) => (s.window = duration(n, unit!)),
  ],
  [
    new RegExp(`\\bolder\\s+than\\s+${EN_AMOUNT}\\s*${EN_UNIT}\\b`, "gi"),
    (s, n, unit) => (s.olderThan = duration(n, unit!)),
  ],
  [
    new RegExp(`(?:超过|早于|大于)\\s*${ZH_AMOUNT}\\s*个?\\s*${ZH_UNIT}(?:前|以前|之前)?(?:创建)?`, "g"),
    (s, n, unit) => (s.olderThan = duration(n, unit!)),
  ],
  [
    new RegExp(
      `\\b(?:with\\s+)?(?:more\\s+than|over)\\s+${EN_AMOUNT}\\s+restarts?\\b|\\brestart(?:ed|s)?\\s+(?:more\\s+than|over)\\s+${EN_AMOUNT}\\s+times?\\b|重启(?:次数)?\\s*(?:超过|大于|多于)\\s*${ZH_AMOUNT}\\s*次?`,
      "gi",
    ),
    (s, a, b, c) => {
      s.defaultKind ??= "Pod";
      s.filters.push(restartCount(">", a ?? b ?? c));
    },
  ],
  [
    new RegExp(
      `\\b(?:with\\s+)?at\\s+least\\s+${EN_AMOUNT}\\s+restarts?\\b|重启(?:次数)?\\s*(?:至少|不少于)\\s*${ZH_AMOUNT}\\s*次?`,
      "gi",
    ),
    (s, a, b) => {
      s.defaultKind ??= "Pod";
      s.filters.push(restartCount(">=", a ?? b));
    },
  ],
  [
    /\b(?:that\s+)?(?:have|has)?\s*(?:been\s+)?restart(?:ed|ing|s)?\b|重启(?:过|了)?/gi,
    (s) => (s.restarted = true),
  ],
  [
    /\b(?:with\s+)?fewer\s+ready\s+replicas\s+than\s+(?:desired|wanted|requested|specified)\b|\bnot\s+fully\s+(?:ready|available)\b|\bunder-?replicated\b/gi,
    (s) => s.filters.push(fewerReadyThanDesired),
  ],
  [
    /(?:就绪)?副本(?:数)?(?:少于|小于|低于|不足)(?:期望|预期|设定|声明)?(?:值|数|的)?(?:副本(?:数)?)?|副本不足/g,
    (s) => s.filters.push(fewerReadyThanDesired),
  ],
  // Counts of replicas before the readiness rules, which would take their "ready".
  [
    /\b(?:with\s+)?(?:0|zero|no)\s+available\s+(?:replicas?|pods?)\b|没有可用(?:的)?副本|可用副本(?:数)?(?:为)?\s*(?:0|零)/gi,
    (s) => s.filters.push(noneAvailable),
  ],
  [
    new RegExp(
      `\\b(?:with\\s+)?(?:${EN_COMPARISON}\\s+)?(\\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a\\s+single|single)\\s+(ready\\s+|available\\s+)?replicas?\\b|${ZH_COMPARISON}\\s*(\\d+|[一二两三四五六七八九十]+)\\s*个?\\s*(就绪|可用)?(?:的)?副本|(就绪|可用)?副本(?:数)?\\s*${ZH_COMPARISON}?\\s*(\\d+|[一二两三四五六七八九十]+)\\s*个?`,
      "gi",
    ),
    (s, enOp, enN, enQualifier, zhOp, zhN, zhQualifier, zhQualifier2, zhOp2, zhN2) => {
      const single = /single/i.test(enN ?? "");
      s.filters.push(
        replicaCount(
          enQualifier ?? zhQualifier ?? zhQualifier2,
          comparisonOf(enOp ?? zhOp ?? zhOp2),
          single ? "1" : (enN ?? zhN ?? zhN2),
        ),
      );
    },
  ],
  [
    /\b(?:not|isn't|aren't|non-?|un)\s*-?ready\b|未就绪|不就绪|没有就绪|没就绪|非就绪/gi,
    (s) => (s.readiness = "notReady"),
  ],
  [/\b(?:fully\s+)?ready\b|已就绪|就绪/gi, (s) => (s.readiness = "ready")],
  [
    /\b(?:not|isn't|aren't)\s+available\b|\bunavailable\b|不可用/gi,
    (s) => s.filters.push({ type: "condition", name: "Available", status: "True", negated: true }),
  ],
  [
    /\b(?:under\s+|with\s+|having\s+)?(memory|disk|pid)\s*pressure\b|(内存|磁盘|PID|进程数)\s*压力/gi,
    (s, a, b) => {
      const name = {
        memory: "Memory",
        disk: "Disk",
        pid: "PID",
        内存: "Memory",
        磁盘: "Disk",
        进程数: "PID",
      }[(a ?? b)!.toLowerCase()];
      s.filters.push({ type: "condition", name: `${name}Pressure`, status: "True", negated: false });
      s.defaultKind ??= "Node";
    },
  ],
  [
    /\b(?:not|isn't|aren't|non-?)\s*(running|pending|succeeded|completed)\b/gi,
    (s, word) => {
      const value = /^complet/i.test(word!)
        ? "Succeeded"
        : word![0]!.toUpperCase() + word!.slice(1).toLowerCase();
      s.filters.push({ type: "compare", field: path("status.phase"), op: "!=", value });
    },
  ],
  [
    /(?:未|没有?|不在|不是|非)\s*(?:在)?\s*运行(?:中|状态)?(?:的)?/g,
    (s) => s.filters.push({ type: "compare", field: path("status.phase"), op: "!=", value: "Running" }),
  ],
  [/\bunhealthy\b|不健康/gi, (s) => (s.unhealthy = true)],
  [
    /\b(?:(?:that\s+are\s+)?in\s+(?:an?\s+)?)?(?:error|errors|erroring|errored)(?:\s+(?:state|status))?\b|\bwith\s+errors?\b|(?:处于\s*)?(?:异常|出错|错误)(?:状态)?(?:的)?/gi,
    (s) => s.filters.push({ type: "or", of: ERROR_REASONS.map(status) }),
  ],
  [
    /\b(?:without|with\s+no|missing|no)\s+(?:resource\s+|memory\s+|cpu\s+)?limits?\b|(?:没有|未设置?|缺少|无)\s*(?:资源)?限制/gi,
    (s) => {
      // A pod's containers, or a workload's template's: each side only where that spec exists.
      s.filters.push({
        type: "or",
        of: ["spec.containers", "spec.template.spec.containers"].map(
          (containers): Condition => ({
            type: "and",
            of: [
              { type: "null", field: path(containers), negated: true },
              { type: "null", field: path(`${containers}.*.resources.limits`), negated: false },
            ],
          }),
        ),
      });
      s.defaultKind ??= "Pod";
    },
  ],
  [
    /\bprivileged\b|特权(?:模式|容器)?/gi,
    (s) => {
      s.filters.push(inContainers("securityContext.privileged", true));
      s.defaultKind ??= "Pod";
    },
  ],
  [
    /\b(?:using|uses|with|on)?\s*(?:the\s+)?host\s*(network|pid|ipc)\b|(?:使用)?主机\s*(网络|进程|PID|IPC)(?:命名空间)?/gi,
    (s, en, zh) => {
      const setting = {
        network: "hostNetwork",
        网络: "hostNetwork",
        pid: "hostPID",
        进程: "hostPID",
        ipc: "hostIPC",
      }[(en ?? zh)!.toLowerCase()]!;
      s.filters.push(inPodSpec(setting, true));
      s.defaultKind ??= "Pod";
    },
  ],
  [
    new RegExp(
      `\\b(?:of\\s+)?(?:type\\s+)?(${SERVICE_TYPES.join("|")})\\b|类型\\s*(?:为|是)?\\s*(${SERVICE_TYPES.join("|")})`,
      "gi",
    ),
    (s, a, b) => {
      const value = SERVICE_TYPES.find((t) => t.toLowerCase() === (a ?? b)!.toLowerCase())!;
      s.filters.push(equals(path("spec.type"), value));
      s.defaultKind ??= "Service";
    },
  ],
  [
    new RegExp(
      `\\b(?:on|in|from)\\s+(?:the\\s+)?node\\s+${NAME}|\\bnode(?:name)?[:=]\\s*${NAME}|(?:在\\s*)?节点\\s*${NAME}\\s*(?:上|中)?`,
      "gi",
    ),
    (s, a, b, c) => {
      s.filters.push(equals(path("spec.nodeName"), (a ?? b ?? c)!));
      s.defaultKind ??= "Pod";
    },
  ],
  [
    /\bcrash[\s-]*loop(?:ing|s|backoff)?\b|\bcrash(?:ing|ed|es)?\b|崩溃循环|崩溃|循环重启/gi,
    (s) => s.filters.push(status("CrashLoopBackOff")),
  ],
  [
    /\b(?:image\s*pull\s*(?:back\s*off|errors?|fail(?:ures?|ing|ed)?)?|imagepullbackoff|errimagepull)\b|镜像拉取失败|拉取镜像失败|镜像拉取/gi,
    (s) => s.filters.push({ type: "or", of: [status("ImagePullBackOff"), status("ErrImagePull")] }),
  ],
  [
    /\boom\s*-?killed\b|\bout\s+of\s+memory\b|内存溢出|内存不足/gi,
    (s) => s.filters.push(status("OOMKilled")),
  ],
  [/\bevicted\b|被驱逐|驱逐/gi, (s) => s.filters.push(status("Evicted"))],
  [
    /\bunschedulable\b|\bcan(?:no|')t\s+be\s+scheduled\b|无法调度|不可调度|调度失败/gi,
    (s) => s.filters.push(status("Unschedulable")),
  ],
  [/\bpending\b|等待中|挂起/gi, (s) => s.filters.push(phase("Pending"))],
  [/\brunning\b|运行中|正在运行/gi, (s) => s.filters.push(phase("Running"))],
  [/\bfail(?:ed|ing)\b|失败/gi, (s) => s.filters.push(phase("Failed"))],
  [/\b(?:succeeded|completed)\b|已完成/gi, (s) => s.filters.push(phase("Succeeded"))],
  [
    new RegExp(
      `\\b(?:in|on|from)\\s+(?:the\\s+)?cluster\\s+${NAME}|\\b${NAME}\\s+cluster\\b|\\bcluster[:=]\\s*${NAME}`,
      "gi",
    ),
    (s, a, b, c) => s.scope.push(equals(column("cluster"), (a ?? b ?? c)!)),
  ],
  [
    new RegExp(
      `(?:在\\s*)?集群\\s*${NAME}\\s*(?:中|里|下|上)?|(?:在\\s*)?${NAME}\\s*集群\\s*(?:中|里|下|上)?`,
      "gi",
    ),
    (s, a, b) => s.scope.push(equals(column("cluster"), (a ?? b)!)),
  ],
  [
    new RegExp(
      `\\b(?:in|from|within)\\s+(?:the\\s+)?namespace\\s+${NAME}|\\b(?:in|from|within)\\s+(?:the\\s+)?${NAME}\\s+namespace\\b|\\b(?:namespace|ns)[:=]\\s*${NAME}`,
      "gi",
    ),
    (s, a, b, c) => s.scope.push(equals(column("namespace"), (a ?? b ?? c)!)),
  ],
  [
    new RegExp(`(?:在\\s*)?(?:命名空间|名字空间|名称空间)\\s*[:：]?\\s*${NAME}\\s*(?:下|中|里|内)?`, "gi"),
    (s, name) => s.scope.push(equals(column("namespace"), name!)),
  ],
  [
    new RegExp(`(?:在\\s*)?${NAME}\\s*(?:命名空间|名字空间|名称空间)?\\s*(?:下面|下|中|里面|里|内)`, "gi"),
    (s, name) => inScope(s, name!),
  ],
  [
    // "on X" is how people name where a pod runs: X is a node unless it is a kind, cluster or namespace.
    new RegExp(`\\bon\\s+(?:the\\s+)?${NAME}(?![\\w.-])`, "gi"),
    (s, name) => {
      const known =
        kindOfWord(name!) !== undefined ||
        s.context.clusters?.includes(name!) ||
        s.context.namespaces?.includes(name!);
      if (known) return inScope(s, name!);
      s.filters.push(equals(path("spec.nodeName"), name!));
      s.defaultKind ??= "Pod";
    },
  ],
  [
    new RegExp(`\\b(?:in|from|within)\\s+(?:the\\s+)?${NAME}(?![\\w.-])`, "gi"),
    (s, name) => inScope(s, name!),
  ],
  [
    /\b(?:with\s+)?labels?(?:led|ed)?\s+([^\s,]+)|标签\s*(?:为|是)?\s*([^\s，,]+)|(?<=\s)([a-z0-9][\w./-]*!?=[\w.-]+)(?=\s)/gi,
    (s, a, b, c) => {
      for (const requirement of parseLabelSelector((a ?? b ?? c)!))
        s.filters.push({ type: "label", requirement });
    },
  ],
  [
    /\bnames?\s+(?:contains?|containing|like|with)\s+["']?([\w.-]+)["']?|(?:名字|名称)\s*(?:中)?(?:包含|含有|带有?)\s*["“]?([\w.-]+)["”]?/gi,
    (s, a, b) => s.filters.push(containsName((a ?? b)!)),
  ],
  [
    /\b(?:using|uses|use|with|running|run)?\s*(?:the\s+)?image\s+["']?([\w./:@-]+)["']?|(?:使用|用了?|运行)?\s*镜像\s*(?:为|是|包含)?\s*["“]?([\w./:@-]+)["”]?/gi,
    (s, a, b) => s.filters.push(imageCondition((a ?? b)!)),
  ],
  [/\b(?:how\s+many|count(?:\s+of)?|number\s+of)\b|多少|几个|数量|总数|统计/gi, (s) => (s.count = true)],
  [
    new RegExp(ZH_KINDS.map(([words]) => `(${words})`).join("|"), "g"),
    (s, ...groups) => {
      const index = groups.findIndex((g) => g !== undefined);
      s.kinds.push(ZH_KINDS[index]![1]);
    },
  ],
];

const EN_STOPWORDS = new Set(
  "a all an and any are be been every everything find get give has have in is it list me of on or please show that the their them there these those what where which who with whose objects resources items created stuck still currently right now".split(
    " ",
  ),
);
const ZH_STOPWORDS =
  /处于|处在|状态为|状态是|状态|所有的|所有|全部|列出|显示|查找|查询|找出|找到|哪些|有哪些|帮我|给我|看看|查看|一下|当前|目前|现在|资源|对象|创建的|创建|里面|下面|一直|仍然|还在|总共|一共|请|的|有|下|中|里|在|我|是|了|过|都|一些|哪个|个|吗|呢|？|\?/g;

/**
 * Questions in English or Chinese, turned into the IR by a fixed table of phrases: offline and
 * deterministic. Words the rules do not know are searched for as free text when the fleet holds
 * them (context.knownWords) and ignored otherwise, and both are reported, so the caller can say
 * what was not understood (or ask a language model).
 */
export function parseNaturalQuery(input: string, context: NaturalContext = {}): NaturalParse {
  const state: State = {
    context,
    scope: [],
    kinds: [],
    filters: [],
    restarted: false,
    count: false,
    groupBy: [],
  };
  // Separators between CJK and Latin text are optional in Chinese; spaces make \b work on both.
  let rest = ` ${input.normalize("NFKC").replace(/([\u4e00-\u9fff])([A-Za-z0-9])|([A-Za-z0-9])([\u4e00-\u9fff])/g, "$1$3 $2$4")} `;
  for (const [pattern, apply] of RULES) {
    rest = rest.replace(pattern, (...args) => {
      const groups = args.slice(1, -2) as (string | undefined)[];
      try {
        if (apply(state, ...groups) === false) return args[0] as string;
      } catch (error) {
        // A phrase that looked like a label selector but is not one stays as text.
        if (error instanceof SelectorError) return args[0] as string;
        throw error;
      }
      return " ";
    });
  }
  // Whole words only: "node-1" is a name to search for, not the kind Node and "-1".
  rest = rest.replace(/(?<![\w.-])[A-Za-z]+(?![\w.-])/g, (word) => {
    const kind = kindOfWord(word);
    if (kind === undefined) return word;
    if (kind) state.kinds.push(kind);
    return " ";
  });
  const unmatched = rest
    .replace(ZH_STOPWORDS, " ")
    .split(/[\s,，。;；!！'"“”]+/)
    .filter((word) => word && !EN_STOPWORDS.has(word.toLowerCase()));
  const known = context.knownWords;
  const searched = known ? unmatched.filter((word) => known.has(word)) : unmatched;
  const ignored = known ? unmatched.filter((word) => !known.has(word)) : [];

  const filters = [...state.filters];
  const now = context.now ?? new Date();
  if (state.restarted) {
    if (state.kinds.length === 0) state.kinds.push("Pod");
    filters.push(
      state.window
        ? {
            type: "compare",
            field: path("status.containerStatuses.*.lastState.terminated.finishedAt"),
            op: ">=",
            value: new Date(now.getTime() - state.window * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
          }
        : { type: "compare", field: path("status.containerStatuses.*.restartCount"), op: ">", value: 0 },
    );
  } else if (state.window) {
    filters.push({ type: "age", op: "<", seconds: state.window });
  }
  if (state.olderThan) filters.push({ type: "age", op: ">", seconds: state.olderThan });
  if (searched.length) filters.push({ type: "text", words: searched });
  if (state.kinds.length === 0 && state.defaultKind) state.kinds.push(state.defaultKind);
  const kinds = [...new Set(state.kinds)];
  if (state.readiness) filters.push(readinessOf(kinds, state.readiness === "ready"));
  if (state.unhealthy)
    filters.push(
      kinds.length > 0 && kinds.every((k) => REPLICATED_KINDS.includes(k) || k === "DaemonSet")
        ? readinessOf(kinds, false)
        : { type: "or", of: ERROR_REASONS.map(status) },
    );
  const kindCondition: Condition[] =
    kinds.length === 0
      ? []
      : kinds.length === 1
        ? [equals(column("kind"), kinds[0]!)]
        : [{ type: "in", field: column("kind"), values: kinds, negated: false }];
  const where = and([...state.scope, ...kindCondition, ...filters]);
  return {
    query: {
      ...(where ? { where } : {}),
      orderBy: [],
      ...(state.count ? { aggregate: { groupBy: state.groupBy } } : {}),
      ...(state.limit !== undefined ? { limit: state.limit } : {}),
    },
    searched,
    ignored,
  };
}

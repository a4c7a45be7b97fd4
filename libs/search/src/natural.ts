import { and, type Comparison, type Condition, column, type Field, type Query, type Scalar } from "@atoll/ir";
import { BUILTIN_RESOURCE_TYPES, parseLabelSelector, SelectorError } from "@atoll/kube";
import { nameCondition } from "./keyword.js";
import { alternation, LANGUAGES, LEXICONS, type LexiconFile, phrasesOf } from "./lexicon.js";

/**
 * The fleet's own words, as far as the asker may see them: what a bare "payments", "zone-b" or
 * "redis" in a question is. The query service gathers them from the index within the asker's grants.
 */
export interface FleetVocabulary {
  clusters?: readonly string[];
  /**
   * The namespaces the asker can see. When given, "in X" names a namespace only if X is one of
   * them; otherwise X stays a word to place, so "pods in error" does not look for a namespace "error".
   */
  namespaces?: readonly string[];
  nodes?: readonly string[];
  /** Label keys with the values objects carry. */
  labels?: Readonly<Record<string, readonly string[]>>;
  /** Container image names without registry or tag ("redis", "envoy"). */
  images?: readonly string[];
  /** Reasons objects' statuses give, lower-cased ("containercreating", "backofflimitexceeded"). */
  reasons?: readonly string[];
}

/** What the reader knows about the fleet, and the words the index was found to hold. */
export interface NaturalContext extends FleetVocabulary {
  /**
   * Of the words no rule explains, those the fleet's index holds (found by a text search within
   * the asker's grants): names or values, worth searching for. When given, every other leftover
   * word is ignored and reported rather than made a required search term that would empty the
   * answer. Without it, every leftover word that may be a name is searched for.
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

/**
 * One thing a question says about the objects it wants, where it says it: the position lets "not"
 * before it negate it and "or" between two of them join them. Items of one slot that cannot both
 * hold (two namespaces, two phases) are alternatives.
 */
interface Item {
  start: number;
  end: number;
  slot: string;
  /** The condition, once the kinds asked for are known ("failed" means one thing for jobs, another for pods). */
  build: (kinds: string[]) => Condition;
  negated: boolean;
}

/** The vocabulary as sets, built once a question, so each word is placed in constant time. */
interface Known {
  clusters?: Set<string>;
  namespaces?: Set<string>;
  nodes?: Set<string>;
  images?: Set<string>;
  reasons?: Set<string>;
  /** Label value to the keys carrying it, shortest key first ("app" before "app.kubernetes.io/name"). */
  keysOf: Map<string, string[]>;
}

function indexVocabulary(context: FleetVocabulary): Known {
  const set = (values: readonly string[] | undefined) => (values ? new Set(values) : undefined);
  const keysOf = new Map<string, string[]>();
  for (const [key, values] of Object.entries(context.labels ?? {}))
    for (const value of values) keysOf.set(value, [...(keysOf.get(value) ?? []), key]);
  for (const keys of keysOf.values()) keys.sort((a, b) => a.length - b.length);
  const known: Known = { keysOf };
  const clusters = set(context.clusters);
  const namespaces = set(context.namespaces);
  const nodes = set(context.nodes);
  const images = set(context.images);
  const reasons = set(context.reasons);
  if (clusters) known.clusters = clusters;
  if (namespaces) known.namespaces = namespaces;
  if (nodes) known.nodes = nodes;
  if (images) known.images = images;
  if (reasons) known.reasons = reasons;
  return known;
}

interface State {
  context: NaturalContext;
  known: Known;
  /** The whole question, normalised; positions of items index into it. */
  text: string;
  items: Item[];
  /** Where the phrase being read lies in the question. */
  span: [number, number];
  kinds: string[];
  /** "in the last hour": applies to restarts when the question is about them, else to creation. */
  window?: number;
  olderThan?: number;
  restarted: boolean;
  /** "crashed in the last hour": a window about the last restart, not about creation. */
  aboutRestarts: boolean;
  /** "ready" or "not ready": what it means depends on the kinds, known only at the end. */
  readiness?: "ready" | "notReady";
  /** The kind a phrase implies ("on node n1": pods) when the question names none. */
  defaultKind?: string;
  count: boolean;
  groupBy: Field[];
  /** "top 5 namespaces": how many groups to return. */
  limit?: number;
  /** "which node has the most pods": the first group only, unless a number says how many. */
  most: boolean;
  /** "unhealthy": not ready for workloads, failing for pods; known only once the kinds are. */
  unhealthy?: boolean;
  /**
   * "which nodes ...": per node when the question asks about another kind ("which node has the
   * most pods"), else the kind itself ("which nodes are in zone-c").
   */
  which?: { field: Field; kind: string };
}

/** Records a condition the current phrase means, in a slot ("" makes it a slot of its own). */
function add(state: State, slot: string, condition: Condition | ((kinds: string[]) => Condition)): void {
  const [start, end] = state.span;
  const build = typeof condition === "function" ? condition : () => condition;
  state.items.push({ start, end, slot: slot || `#${state.items.length}`, build, negated: false });
}

const path = (dotted: string): Field => ({ kind: "path", segments: dotted.split(".") });
const equals = (field: Field, value: Scalar): Condition => ({ type: "compare", field, op: "=", value });
const status = (value: string): Condition => ({ type: "status", value });
const phase = (value: string): Condition => equals(path("status.phase"), value);
/**
 * A name as Kubernetes allows it. Every open-ended word pattern is bounded (a DNS subdomain is at
 * most 253 characters): a pattern that may run to the end of the text before failing would, tried
 * at each position, make the reading quadratic in the question's length.
 */
const NAME = "([a-z0-9][a-z0-9.-]{0,252})";

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

/** Kind words of both languages beyond Kubernetes' own names, as [pattern, kind]; "" is any kind. */
const KIND_WORDS: [RegExp, string][] = LANGUAGES.flatMap((language) =>
  Object.entries(LEXICONS[language].kinds ?? {}).map(([words, kind]): [RegExp, string] => [
    new RegExp(`^(?:${words})$`, "i"),
    kind,
  ]),
);

/** Kind names and plural resource names only: short names such as "no" or "po" are common words. */
function kindOfWord(word: string): string | undefined {
  const lower = word.toLowerCase();
  const extra = KIND_WORDS.find(([pattern]) => pattern.test(lower));
  if (extra) return extra[1];
  return BUILTIN_RESOURCE_TYPES.find(
    (t) => t.kind.toLowerCase() === lower || t.resource === lower || `${t.kind.toLowerCase()}s` === lower,
  )?.kind;
}

/** A table of both lexicons, value by the words that say it, as [whole-word pattern, value], compiled once. */
function wordTable(pick: (lexicon: LexiconFile) => Record<string, string[]>): [RegExp, string][] {
  return LANGUAGES.flatMap((language) =>
    Object.entries(pick(LEXICONS[language])).flatMap(([value, words]) =>
      words.map((w): [RegExp, string] => [new RegExp(`^(?:${w})$`, "i"), value]),
    ),
  );
}
const LABEL_KEYS = wordTable((l) => l.labelKeys);
const GROUP_FIELDS = wordTable((l) => l.groupFields);

/** The label key a word names ("team", "可用区"): one the fleet carries whose last segment is the word's key. */
function labelKeyOf(context: NaturalContext, word: string): string | undefined {
  const key = LABEL_KEYS.find(([pattern]) => pattern.test(word))?.[1];
  if (key === undefined) return Object.keys(context.labels ?? {}).find((k) => k === word.toLowerCase());
  const known = Object.keys(context.labels ?? {}).filter((k) => k === key || k.endsWith(`/${key}`));
  return known.sort((x, y) => x.length - y.length)[0] ?? key;
}

/** The field a group word names: a column, the node, the phase, or a label key. */
function groupField(context: NaturalContext, word: string): Field | undefined {
  const field = GROUP_FIELDS.find(([pattern]) => pattern.test(word))?.[1];
  if (field === "node") return path("spec.nodeName");
  if (field === "phase") return path("status.phase");
  if (field) return column(field as "cluster" | "namespace" | "kind");
  const key = labelKeyOf(context, word);
  return key ? { kind: "label", key } : undefined;
}

/** Every word that names a group field or a label key, in both languages. */
const GROUP_WORDS = [
  phrasesOf((l) => Object.values(l.groupFields).flat()),
  phrasesOf((l) => Object.values(l.labelKeys).flat()),
].join("|");
const LABEL_KEY_WORDS = phrasesOf((l) => Object.values(l.labelKeys).flat());

/** "in X": a kind, a cluster or a namespace; false leaves X in the text when it is none of them. */
function inScope(state: State, name: string): boolean {
  const kind = kindOfWord(name);
  if (kind !== undefined) {
    if (kind) state.kinds.push(kind);
    return true;
  }
  if (state.known.clusters?.has(name)) {
    add(state, "cluster", equals(column("cluster"), name));
    return true;
  }
  if (state.known.namespaces && !state.known.namespaces.has(name)) return false;
  add(state, "namespace", equals(column("namespace"), name));
  return true;
}

/** A phrase that groups the answer by a field, when the field is one the reader knows. */
function groupBy(state: State, ...words: (string | undefined)[]): boolean {
  const fields = words.filter((w): w is string => !!w).map((w) => groupField(state.context, w));
  if (fields.length === 0 || fields.some((f) => !f)) return false;
  state.count = true;
  for (const field of fields)
    if (field!.kind === "path" && field!.segments[1] === "nodeName") state.defaultKind ??= "Pod";
  state.groupBy.push(...(fields as Field[]));
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

/** Words that ask for a number rather than a list. */
const COUNTING = /\b(?:how\s+many|count|number\s+of)\b|多少|几个|数量|总数|统计/i;

/** A rule records what its phrase means; returning false leaves the phrase in the text, unexplained. */
type Rule = [RegExp, (state: State, ...groups: (string | undefined)[]) => unknown];

const lastStateReason = (reason: string): Condition =>
  equals(path("status.containerStatuses.*.lastState.terminated.reason"), reason);

/**
 * What each concept of the language tables (language/<code>.json) means. The tables say how
 * people put an idea; this says what the idea is, once, for every language.
 */
const CONCEPTS: Record<string, (state: State) => void> = {
  crashLoop: (s) => {
    add(s, "status", status("CrashLoopBackOff"));
    s.aboutRestarts = true;
  },
  imagePull: (s) =>
    add(s, "status", { type: "or", of: [status("ImagePullBackOff"), status("ErrImagePull")] }),
  oomKilled: (s) => {
    // A container killed for memory restarts and crash-loops; its last state keeps the reason.
    add(s, "status", { type: "or", of: [status("OOMKilled"), lastStateReason("OOMKilled")] });
    s.aboutRestarts = true;
  },
  evicted: (s) => add(s, "status", status("Evicted")),
  unschedulable: (s) => add(s, "status", status("Unschedulable")),
  configError: (s) => add(s, "status", status("CreateContainerConfigError")),
  containerCreating: (s) => add(s, "status", status("ContainerCreating")),
  errorState: (s) => add(s, "status", { type: "or", of: ERROR_REASONS.map(status) }),
  // A job fails by condition; a pod by phase.
  failed: (s) =>
    add(s, "status", (kinds) =>
      kinds.length > 0 && kinds.every((k) => k === "Job")
        ? { type: "condition", name: "Failed", status: "True", negated: false }
        : phase("Failed"),
    ),
  pending: (s) => add(s, "phase", phase("Pending")),
  running: (s) => add(s, "phase", phase("Running")),
  succeeded: (s) => add(s, "phase", phase("Succeeded")),
  notRunning: (s) => add(s, "", { type: "compare", field: path("status.phase"), op: "!=", value: "Running" }),
  notPending: (s) => add(s, "", { type: "compare", field: path("status.phase"), op: "!=", value: "Pending" }),
  notSucceeded: (s) =>
    add(s, "", { type: "compare", field: path("status.phase"), op: "!=", value: "Succeeded" }),
  notBound: (s) => add(s, "", { type: "compare", field: path("status.phase"), op: "!=", value: "Bound" }),
  suspended: (s) => add(s, "", equals(path("spec.suspend"), true)),
  noLimits: (s) => {
    add(s, "", withoutResources("limits"));
    s.defaultKind ??= "Pod";
  },
  noRequests: (s) => {
    add(s, "", withoutResources("requests"));
    s.defaultKind ??= "Pod";
  },
  privileged: (s) => {
    add(s, "", inContainers("securityContext.privileged", true));
    s.defaultKind ??= "Pod";
  },
  hostNetwork: (s) => {
    add(s, "", inPodSpec("hostNetwork", true));
    s.defaultKind ??= "Pod";
  },
  hostPID: (s) => {
    add(s, "", inPodSpec("hostPID", true));
    s.defaultKind ??= "Pod";
  },
  underReplicated: (s) => add(s, "", fewerReadyThanDesired),
  noneAvailable: (s) => add(s, "", noneAvailable),
  notReady: (s) => (s.readiness = "notReady"),
  ready: (s) => (s.readiness = "ready"),
  unavailable: (s) => add(s, "", { type: "condition", name: "Available", status: "True", negated: true }),
  memoryPressure: (s) => pressure(s, "Memory"),
  diskPressure: (s) => pressure(s, "Disk"),
  pidPressure: (s) => pressure(s, "PID"),
  unhealthy: (s) => (s.unhealthy = true),
  restarted: (s) => (s.restarted = true),
  neverRestarted: (s) => {
    add(s, "", {
      type: "compare",
      field: path("status.containerStatuses.*.restartCount"),
      op: "=",
      value: 0,
    });
    s.defaultKind ??= "Pod";
  },
  lastExitError: (s) => add(s, "", lastStateReason("Error")),
};

function pressure(state: State, resource: string): void {
  add(state, "", { type: "condition", name: `${resource}Pressure`, status: "True", negated: false });
  state.defaultKind ??= "Node";
}

/** A pod's containers, or a workload's template's, without limits (or requests): each side only where that spec exists. */
function withoutResources(setting: "limits" | "requests"): Condition {
  return {
    type: "or",
    of: ["spec.containers", "spec.template.spec.containers"].map(
      (containers): Condition => ({
        type: "and",
        of: [
          { type: "null", field: path(containers), negated: true },
          { type: "null", field: path(`${containers}.*.resources.${setting}`), negated: false },
        ],
      }),
    ),
  };
}

/**
 * The order concepts are read in: a longer or negated phrase before the phrase it contains ("not
 * running" before "running", "failing" before "failed", replica counts before "ready").
 */
export const CONCEPT_ORDER = [
  "lastExitError",
  "underReplicated",
  "noneAvailable",
  "notReady",
  "unavailable",
  "memoryPressure",
  "diskPressure",
  "pidPressure",
  "notRunning",
  "notPending",
  "notSucceeded",
  "notBound",
  "unhealthy",
  "imagePull",
  "oomKilled",
  "unschedulable",
  "configError",
  "containerCreating",
  "errorState",
  "noLimits",
  "noRequests",
  "privileged",
  "hostNetwork",
  "hostPID",
  "crashLoop",
  "evicted",
  "suspended",
  "neverRestarted",
  "restarted",
  "pending",
  "running",
  "failed",
  "succeeded",
  "ready",
];

const conceptRule = (concept: string): Rule => {
  const source = phrasesOf((l) => l.concepts[concept]);
  return [new RegExp(source, "gi"), (s) => CONCEPTS[concept]!(s)];
};

const OWNER_KINDS = "deployment|statefulset|daemonset|replicaset|job|cronjob";
const ZH_OWNER_KINDS = "部署|有状态应用|守护进程集|副本集|定时任务|任务";

/** How many levels below an owner of one kind objects of another sit: a deployment's pods are grandchildren. */
function seniority(owner: string, child: string): number {
  return (owner === "Deployment" && child === "Pod") || (owner === "CronJob" && child === "Pod") ? 1 : 0;
}

function ownedBy(state: State, ownerWord: string, name: string, childWord: string): void {
  const owner = kindOfWord(ownerWord) || "Deployment";
  const child = kindOfWord(childWord) || "Pod";
  const type = BUILTIN_RESOURCE_TYPES.find((t) => t.kind === owner);
  state.kinds.push(child);
  add(state, "owner", {
    type: "owner",
    owner: { name, ...(type ? { group: type.group, resource: type.resource } : {}) },
    seniority: seniority(owner, child),
  });
}

/**
 * Kind words that are not one Latin word: Chinese ones, which need no spaces around them, and
 * English phrases ("volume claims").
 */
const KIND_PHRASES = phrasesOf((l) =>
  Object.keys(l.kinds ?? {}).filter((words) => /[\u4e00-\u9fff]|\s/.test(words)),
);

const EXIT_CODE = (code: string | undefined): Condition => ({
  type: "or",
  of: ["lastState", "state"].map((state) =>
    equals(path(`status.containerStatuses.*.${state}.terminated.exitCode`), Number(code)),
  ),
});

/**
 * Each rule recognises a phrase, English or Chinese, and records what it means; the phrase is then
 * blanked out so later rules see only what is left. Order matters: longer and more specific phrases
 * come first ("not running" before "running", "in the last hour" before "in <namespace>").
 */
const RULES: Rule[] = [
  // "deployments in every namespace": per namespace when the question counts, else everywhere.
  [
    new RegExp(`\\b(?:in|on|across|for|from)\\s+(?:every|all|all\\s+the)\\s+(${GROUP_WORDS})`, "gi"),
    (s, group) => COUNTING.test(s.text) && groupBy(s, group),
  ],
  [
    /\b(?:in|across|from|on)\s+(?:all|every|any)\s+(?:the\s+)?(?:namespaces?|clusters?)\b|\beverywhere\b|所有(?:的)?(?:命名空间|集群)|各个集群里/gi,
    () => {},
  ],
  // "top 5 namespaces", "the 2 clusters with the most pods", "which 3 nodes run the most pods".
  [
    new RegExp(
      `\\btop\\s+${EN_AMOUNT}\\s*(${GROUP_WORDS})|\\b(?:the\\s+)?(\\d+|two|three|four|five|six|seven|eight|nine|ten)\\s+(${GROUP_WORDS})\\s+with\\s+the\\s+most\\b|\\b(?:which|what)\\s+(\\d+|two|three|four|five|six|seven|eight|nine|ten)\\s+(${GROUP_WORDS})`,
      "gi",
    ),
    (s, n, group, n2, group2, n3, group3) => {
      if (!groupBy(s, group ?? group2 ?? group3)) return false;
      s.limit = amount(n ?? n2 ?? n3);
      s.most = true;
    },
  ],
  [
    new RegExp(
      `(?:数量)?(?:排名|排行)?前\\s*${ZH_AMOUNT}\\s*(?:名|个|位)?\\s*的?\\s*(${GROUP_WORDS})|最多的?\\s*(?:前)?\\s*${ZH_AMOUNT}\\s*个?\\s*(${GROUP_WORDS})`,
      "gi",
    ),
    (s, n, group, n2, group2) => {
      if (!groupBy(s, group ?? group2)) return false;
      if (n ?? n2) s.limit = amount(n ?? n2);
      s.most = true;
    },
  ],
  // A name comes before every other rule: "pods named crash" names a pod, not a crash loop.
  [
    /\b(?:named|called)\s+["']?([\w.*-]{1,253})["']?|(?:名为|名叫|叫做|名字(?:是|为)|名称(?:是|为))\s*["“]?([\w.*-]{1,253})["”]?/gi,
    // A name given plainly is matched as kubectl users search, inside the name (pods named api:
    // api-7d9f-x2); with * it is a pattern.
    (s, a, b) => add(s, "name", (a ?? b)!.includes("*") ? nameCondition((a ?? b)!) : containsName((a ?? b)!)),
  ],
  // "how many clusters": one group per cluster, whose number is the answer.
  [
    /\bhow\s+many\s+(clusters|namespaces)\b|(?:有)?多少个?\s*(集群|命名空间)(?=\s|$|？|\?)/gi,
    (s, a, b) => groupBy(s, a ?? b),
  ],
  // "where is the api deployment running": the clusters it runs in, not a phase.
  [
    /\bwhere\s+(?:is|are|does|do)\s+(?:the\s+)?([\w.-]{1,253})\s+(deployment|statefulset|daemonset|service|pod|job|cronjob)s?\s+(?:running|run|deployed|placed|live|located)\b|([\w.-]{1,253})\s*(?:这个)?\s*(部署|服务|应用)?\s*(?:运行|部署)在哪(?:些|个|里)?(?:集群)?/gi,
    (s, name, kind, zhName, zhKind) => {
      s.count = true;
      s.groupBy.push(column("cluster"));
      add(s, "name", containsName((name ?? zhName)!));
      const word = kind ?? zhKind;
      s.kinds.push((word && kindOfWord(word)) || "Deployment");
    },
  ],
  // "pods of deployment api", "replicasets owned by the search deployment", "api 部署的 Pod".
  [
    new RegExp(
      `\\b(pods?|replicasets?|jobs?)\\s+(?:of|owned\\s+by|belonging\\s+to|managed\\s+by|created\\s+by|from|under)\\s+(?:the\\s+)?(?:(${OWNER_KINDS})\\s+${NAME}|${NAME}\\s+(${OWNER_KINDS}))\\b|(?:属于\\s*)?${NAME}\\s*(?:这个)?\\s*(${ZH_OWNER_KINDS}|${OWNER_KINDS})\\s*(?:下面|下|管理|创建)?\\s*的\\s*(?:所有|全部)?\\s*的?\\s*(Pod|容器组|副本集|任务|pods?|replicasets?|jobs?)`,
      "gi",
    ),
    (s, child, ownerKind, name, name2, ownerKind2, zhName, zhOwner, zhChild) => {
      if (zhName) ownedBy(s, zhOwner!, zhName, zhChild!);
      else ownedBy(s, (ownerKind ?? ownerKind2)!, (name ?? name2)!, child!);
    },
  ],
  // "count pods by team and cluster", "per node", "在每个集群", "按团队和集群".
  [
    new RegExp(
      `\\b(?:per|by|for\\s+each|in\\s+each|on\\s+each|each|grouped\\s+by|broken\\s+down\\s+by)\\s+(${GROUP_WORDS})(?:\\s+and\\s+(${GROUP_WORDS}))?|(?:按照?|每个?|各个?|分)\\s*(${GROUP_WORDS})(?:\\s*(?:和|与|及)\\s*(${GROUP_WORDS}))?(?:分组|统计)?`,
      "gi",
    ),
    (s, a, b, c, d) => groupBy(s, a ?? c, b ?? d),
  ],
  // "which namespaces have ...", "哪个节点上的 Pod 最多": the answer is per group.
  [
    new RegExp(`\\b(?:which|what)\\s+(${GROUP_WORDS})|哪(?:个|些|一个)\\s*(${GROUP_WORDS})`, "gi"),
    (s, a, b) => {
      const word = (a ?? b)!;
      const kind = kindOfWord(word);
      if (!groupBy(s, word)) return false;
      if (kind) s.which = { field: s.groupBy.at(-1)!, kind };
    },
  ],
  // "deployments whose pods aren't all ready": the pods say how, not what, is asked for.
  [/\bwhose\s+(?:pods?|containers?|replicas?)\b/gi, () => {}],
  [/\b(?:the\s+)?most\b|最多/gi, (s) => (s.most = true)],
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
      add(s, "", restartCount(">", a ?? b ?? c));
    },
  ],
  [
    new RegExp(
      `\\b(?:with\\s+)?at\\s+least\\s+${EN_AMOUNT}\\s+restarts?\\b|重启(?:次数)?\\s*(?:至少|不少于)\\s*${ZH_AMOUNT}\\s*次?`,
      "gi",
    ),
    (s, a, b) => {
      s.defaultKind ??= "Pod";
      add(s, "", restartCount(">=", a ?? b));
    },
  ],
  // "between 10 and 20 restarts", "重启次数在 10 到 20 次之间", "副本数在 2 到 3 之间".
  [
    /\bbetween\s+(\d+)\s+and\s+(\d+)\s+(restarts?|replicas?)\b|\b(restarts?|replicas?)\s+between\s+(\d+)\s+and\s+(\d+)\b|(重启|副本)(?:次数|数)?\s*在?\s*(\d+)\s*(?:到|至|-|~)\s*(\d+)\s*(?:次|个)?\s*(?:之间)?/gi,
    (s, low, high, what, what2, low2, high2, zhWhat, zhLow, zhHigh) => {
      const restarts = /restart|重启/i.test((what ?? what2 ?? zhWhat)!);
      const field = path(restarts ? "status.containerStatuses.*.restartCount" : "spec.replicas");
      if (restarts) s.defaultKind ??= "Pod";
      add(s, "", {
        type: "and",
        of: [
          { type: "compare", field, op: ">=", value: Number(low ?? low2 ?? zhLow) },
          { type: "compare", field, op: "<=", value: Number(high ?? high2 ?? zhHigh) },
        ],
      });
    },
  ],
  [
    /\b(?:terminated\s+with\s+|with\s+)?(?:an?\s+)?exit\s*code\s*(?:of|was|=|:)?\s*(\d+)\b|退出码\s*(?:为|是|=)?\s*(\d+)/gi,
    (s, a, b) => {
      s.defaultKind ??= "Pod";
      add(s, "", EXIT_CODE(a ?? b));
    },
  ],
  // Counts of replicas before the readiness concepts, which would take their "ready".
  conceptRule("underReplicated"),
  conceptRule("noneAvailable"),
  [
    new RegExp(
      `\\b(?:with\\s+)?(?:${EN_COMPARISON}\\s+)?(\\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a\\s+single|single)\\s+(ready\\s+|available\\s+)?replicas?\\b|${ZH_COMPARISON}?\\s*(\\d+|[一二两三四五六七八九十]+)\\s*个\\s*(就绪|可用)?(?:的)?副本|(就绪|可用)?副本(?:数)?\\s*${ZH_COMPARISON}?\\s*(\\d+|[一二两三四五六七八九十]+)\\s*个?`,
      "gi",
    ),
    (s, enOp, enN, enQualifier, zhOp, zhN, zhQualifier, zhQualifier2, zhOp2, zhN2) => {
      const single = /single/i.test(enN ?? "");
      add(
        s,
        "",
        replicaCount(
          enQualifier ?? zhQualifier ?? zhQualifier2,
          comparisonOf(enOp ?? zhOp ?? zhOp2),
          single ? "1" : (enN ?? zhN ?? zhN2),
        ),
      );
    },
  ],
  // "deployments running nginx", "using the redis image": an image the fleet runs, before "running".
  [
    /\b(?:running|runs|run|using|uses|use|with)\s+(?:the\s+)?(?:image\s+)?([\w./:@-]{1,512})(?:\s+images?)?\b/gi,
    (s, image) => imageOf(s, image!),
  ],
  ...CONCEPT_ORDER.filter((c) => c !== "underReplicated" && c !== "noneAvailable").map(conceptRule),
  [
    new RegExp(
      `\\b(?:of\\s+)?(?:type\\s+)?(${SERVICE_TYPES.join("|")})\\b|类型\\s*(?:为|是)?\\s*(${SERVICE_TYPES.join("|")})`,
      "gi",
    ),
    (s, a, b) => {
      const value = SERVICE_TYPES.find((t) => t.toLowerCase() === (a ?? b)!.toLowerCase())!;
      add(s, "serviceType", equals(path("spec.type"), value));
      s.defaultKind ??= "Service";
    },
  ],
  [
    new RegExp(
      `\\b(?:on|in|from)\\s+(?:the\\s+)?node\\s+${NAME}|\\bnode(?:name)?[:=]\\s*${NAME}|(?:在\\s*)?节点\\s*${NAME}\\s*(?:上|中)?`,
      "gi",
    ),
    (s, a, b, c) => onNode(s, (a ?? b ?? c)!),
  ],
  [
    new RegExp(
      `\\b(?:in|on|from|of)\\s+(?:the\\s+)?cluster\\s+${NAME}|\\b${NAME}\\s+cluster\\b|\\bcluster[:=]\\s*${NAME}`,
      "gi",
    ),
    (s, a, b, c) => add(s, "cluster", equals(column("cluster"), (a ?? b ?? c)!)),
  ],
  [
    new RegExp(
      `(?:在\\s*)?集群\\s*${NAME}\\s*(?:中|里|下|上)?|(?:在\\s*)?${NAME}\\s*集群\\s*(?:中|里|下|上)?`,
      "gi",
    ),
    (s, a, b) => add(s, "cluster", equals(column("cluster"), (a ?? b)!)),
  ],
  [
    new RegExp(
      `\\b(?:(?:in|from|within|of)\\s+)?(?:the\\s+)?namespaces?\\s+${NAME}|\\b(?:(?:in|from|within|of)\\s+)?(?:the\\s+)?${NAME}\\s+namespaces?\\b|\\b(?:namespace|ns)[:=]\\s*${NAME}`,
      "gi",
    ),
    (s, a, b, c) => {
      const name = (a ?? b ?? c)!;
      if (kindOfWord(name) !== undefined || /^(?:the|all|every|each|any|which|what)$/i.test(name))
        return false;
      add(s, "namespace", equals(column("namespace"), name));
    },
  ],
  [
    new RegExp(`(?:在\\s*)?(?:命名空间|名字空间|名称空间)\\s*[:：]?\\s*${NAME}\\s*(?:下|中|里|内)?`, "gi"),
    (s, name) => add(s, "namespace", equals(column("namespace"), name!)),
  ],
  [
    new RegExp(`(?:在\\s*)?${NAME}\\s*(?:命名空间|名字空间|名称空间)\\s*(?:下面|下|中|里面|里|内)?`, "gi"),
    (s, name) => add(s, "namespace", equals(column("namespace"), name!)),
  ],
  [
    new RegExp(`(?:在\\s*)?${NAME}\\s*(?:下面|下|中|里面|里|内)`, "gi"),
    (s, name) => inScope(s, name!) || placeWord(s, name!),
  ],
  [
    // "on X" is how people name where a pod runs: X is a node unless it is a kind, cluster or namespace.
    new RegExp(`\\bon\\s+(?:the\\s+)?${NAME}(?![\\w.-])`, "gi"),
    (s, name) => {
      const known =
        kindOfWord(name!) !== undefined || s.known.clusters?.has(name!) || s.known.namespaces?.has(name!);
      if (known) return inScope(s, name!);
      if (s.known.nodes && !s.known.nodes.has(name!)) return placeWord(s, name!);
      onNode(s, name!);
    },
  ],
  [
    new RegExp(`\\b(?:in|from|within)\\s+(?:the\\s+)?${NAME}(?![\\w.-])`, "gi"),
    (s, name) => inScope(s, name!) || placeWord(s, name!),
  ],
  [
    /\b(?:with\s+)?labels?(?:led|ed)?\s+([^\s,]{1,512})|标签\s*(?:为|是)?\s*([^\s，,]{1,512})|(?<=\s)([a-z0-9][\w./-]{0,316}!?=[\w.-]{1,63})(?=\s)/gi,
    (s, a, b, c) => {
      for (const requirement of parseLabelSelector((a ?? b ?? c)!))
        add(s, `label:${requirement.key}`, { type: "label", requirement });
    },
  ],
  [
    /\bnames?\s+(?:contains?|containing|like|with)\s+["']?([\w.-]{1,253})["']?|(?:名字|名称)\s*(?:中)?(?:包含|含有|带有?)\s*["“]?([\w.-]{1,253})["”]?/gi,
    (s, a, b) => add(s, "name", containsName((a ?? b)!)),
  ],
  [
    /\bimages?\s+["']?([\w./:@-]{1,512})["']?|(?:使用|用了?|运行)?\s*镜像\s*(?:为|是|包含)?\s*["“]?([\w./:@-]{1,512})["”]?|([\w./:@-]{1,512})\s*镜像/gi,
    (s, a, b, c) => add(s, "", imageCondition((a ?? b ?? c)!)),
  ],
  [
    /\b(?:how\s+many|count(?:\s+of)?|number\s+of|break\s+down)\b|多少|几个|数量|总数|统计|(?<=\S\s*)(?:的\s*)?(?:个)?数(?=\s|$|[)）?？,，])/gi,
    (s) => (s.count = true),
  ],
  [
    new RegExp(`(${KIND_PHRASES})`, "gi"),
    (s, word) => {
      const kind = kindOfWord(word!);
      if (kind) s.kinds.push(kind);
    },
  ],
];

function onNode(state: State, name: string): void {
  // "node-3" in a question about nodes is that node; in any other it is where pods run.
  add(state, "node", (kinds) =>
    kinds.length === 1 && kinds[0] === "Node"
      ? equals(column("name"), name)
      : equals(path("spec.nodeName"), name),
  );
  state.defaultKind ??= "Pod";
}

/** An image the fleet runs, or a word that is plainly an image reference (a registry path or a tag). */
function imageOf(state: State, word: string): boolean {
  const lower = word.toLowerCase();
  if (!state.known.images?.has(lower) && !/[/:@]/.test(word)) return false;
  add(state, "", imageCondition(word));
  return true;
}

/**
 * A bare word the fleet knows: a cluster, a namespace, a node, a label value (of the key a word
 * beside it names, when one does), a status reason or an image. False when the fleet knows it as none of them.
 */
function placeWord(state: State, word: string, keyHint?: string): boolean {
  const { known } = state;
  const keys = known.keysOf.get(word) ?? [];
  if (keyHint && keys.includes(keyHint)) {
    add(state, `label:${keyHint}`, {
      type: "label",
      requirement: { key: keyHint, operator: "=", values: [word] },
    });
    return true;
  }
  if (known.clusters?.has(word)) {
    add(state, "cluster", equals(column("cluster"), word));
    return true;
  }
  if (known.namespaces?.has(word)) {
    add(state, "namespace", equals(column("namespace"), word));
    return true;
  }
  if (known.nodes?.has(word)) {
    onNode(state, word);
    return true;
  }
  if (keys.length > 0) {
    add(state, `label:${keys[0]}`, {
      type: "label",
      requirement: { key: keys[0]!, operator: "=", values: [word] },
    });
    return true;
  }
  if (known.reasons?.has(word.toLowerCase())) {
    add(state, "status", status(word));
    return true;
  }
  return imageOf(state, word);
}

const blank = (text: string, start: number, end: number) =>
  text.slice(0, start) + " ".repeat(end - start) + text.slice(end);

/** Words naming a label key, and the label values said in plain words ("后端" is backend). */
const KEY_MENTION = new RegExp(LABEL_KEY_WORDS, "gi");
const VALUE_WORDS: [RegExp, string][] = LANGUAGES.flatMap((language) =>
  Object.entries(LEXICONS[language].labelValues ?? {}).map(([value, words]): [RegExp, string] => [
    new RegExp(alternation(language, words), "gi"),
    value,
  ]),
);

/**
 * Reads the words no phrase explained against the fleet's vocabulary. A label value takes the key
 * a word right beside it names ("payments team", "growth 团队"), and that word with it.
 */
function placeWords(state: State, text: string): string {
  let rest = text;
  const mentions = [...rest.matchAll(KEY_MENTION)].map((m) => ({
    start: m.index,
    end: m.index + m[0].length,
    key: labelKeyOf(state.context, m[0]),
  }));
  const beside = (start: number, end: number) =>
    mentions.find(
      (m) =>
        m.key &&
        (/^(?:\s|'s|的|the)*$/i.test(rest.slice(end, m.start)) ||
          /^(?:\s|的|of|the)*$/i.test(rest.slice(m.end, start))),
    );
  const place = (word: string, start: number, end: number) => {
    const mention = beside(start, end);
    state.span = [start, end];
    if (!placeWord(state, word, mention?.key)) return;
    rest = blank(rest, start, end);
    const taken = state.items.at(-1);
    if (mention && taken?.slot === `label:${mention.key}`) rest = blank(rest, mention.start, mention.end);
  };
  for (const [pattern, value] of VALUE_WORDS)
    for (const match of rest.matchAll(pattern))
      if (state.known.keysOf.has(value)) place(value, match.index, match.index + match[0].length);
  for (const match of rest.matchAll(
    /(?<![\w.-])[a-z0-9][\w./:@-]{0,510}[\w]|(?<![\w.-])[a-z0-9](?![\w.-])/gi,
  )) {
    if (kindOfWord(match[0]) !== undefined) continue;
    place(match[0], match.index, match.index + match[0].length);
  }
  return rest;
}

const LANGUAGE_WORDS = (key: "negations" | "disjunctions" | "conjunctions") =>
  new RegExp(`(?:${phrasesOf((l) => l[key])})\\s*$`, "i");
const NEGATION_BEFORE = LANGUAGE_WORDS("negations");
/** What may stand between a negation and what it negates: "not in the", "except those in", "除了". */
const FILLER_BEFORE =
  /(?:\s|\b(?:in|on|of|from|the|those|ones|that|are|is|any|namespaces?|clusters?)\b|在|于)*$/i;
const JOINER = new RegExp(
  `^(?:\\s|,|，|、|\\b(?:in|on|the|namespaces?|clusters?)\\b|在)*(?:(${phrasesOf((l) => l.disjunctions)})|(${phrasesOf((l) => l.conjunctions)})|,|，|、)(?:\\s|\\b(?:in|on|the)\\b|在)*$`,
  "i",
);
const AFTER_EXCLUSION = /^\s*(?:以外|之外)/;
const QUESTION_FORMS = new RegExp(phrasesOf((l) => l.questionForms) || "(?!)", "gi");

/**
 * Joins the items into one condition. "not"/"except"/"除了" before an item negates it, and the
 * items listed after it with "and", "or" or a comma; items joined by "or" are alternatives, as are
 * several of one slot (two namespaces); the rest must all hold.
 */
function combine(items: Item[], text: string, kinds: string[]): { scope: Condition[]; filters: Condition[] } {
  const sorted = [...items].sort((a, b) => a.start - b.start);
  const units: { slot: string; negated: boolean; conditions: Condition[]; alternatives: boolean }[] = [];
  let previous: Item | undefined;
  for (const item of sorted) {
    // What links two items is a few words; a longer stretch links nothing, and looking at only
    // its end keeps the patterns below linear on a question made of nothing but spaces.
    const before = text.slice(Math.max(previous?.end ?? 0, item.start - 40), item.start);
    const joined = previous && previous.end >= item.start - 40 ? JOINER.exec(before) : null;
    const negatedHere =
      NEGATION_BEFORE.test(before.replace(QUESTION_FORMS, " ").replace(FILLER_BEFORE, "")) ||
      AFTER_EXCLUSION.test(text.slice(item.end));
    const condition = item.build(kinds);
    const last = units.at(-1);
    if (joined && last && previous && (previous.slot === item.slot || joined[1])) {
      // A list continues: "except A and B", "A or B", "neither A nor B".
      last.conditions.push(condition);
      if (joined[1]) last.alternatives = true;
    } else {
      units.push({ slot: item.slot, negated: negatedHere, conditions: [condition], alternatives: false });
    }
    if (negatedHere && units.at(-1)) units.at(-1)!.negated = true;
    previous = item;
  }
  // Several positive units of one slot are alternatives: an object is in one namespace.
  const bySlot = new Map<string, Condition[]>();
  const scope: Condition[] = [];
  const conditions: Condition[] = [];
  for (const unit of units) {
    const exclusive = !unit.slot.startsWith("#") && unit.slot !== "";
    const alternatives = unit.alternatives || exclusive;
    if (unit.negated) {
      const into = SCOPE_SLOTS.includes(unit.slot) ? scope : conditions;
      for (const c of unit.conditions) into.push({ type: "not", of: c });
      continue;
    }
    const one: Condition =
      unit.conditions.length === 1 || !alternatives
        ? and(unit.conditions)!
        : { type: "or", of: unit.conditions };
    if (exclusive) bySlot.set(unit.slot, [...(bySlot.get(unit.slot) ?? []), one]);
    else conditions.push(one);
  }
  for (const [slot, group] of bySlot)
    (SCOPE_SLOTS.includes(slot) ? scope : conditions).push(
      group.length === 1 ? group[0]! : { type: "or", of: group },
    );
  return { scope, filters: conditions };
}

/** Where objects are, said before what they are in the answer's SQL, as people read it. */
const SCOPE_SLOTS = ["cluster", "namespace"];

/** Words with no meaning of their own, and the connectives once they have joined or negated what they stand by. */
const STOPWORDS = new Set(
  LANGUAGES.map((language) => LEXICONS[language])
    .flatMap((l) => [
      ...l.stopwords.split(/\s+/),
      ...[...l.negations, ...l.disjunctions, ...l.conjunctions].filter((w) => /^[\w']+$/.test(w)),
    ])
    .map((w) => w.toLowerCase()),
);
const ZH_STOPWORDS = new RegExp(
  [
    ...LEXICONS.zh.stopwords.split(/\s+/),
    ...[...LEXICONS.zh.negations, ...LEXICONS.zh.disjunctions, ...LEXICONS.zh.conjunctions],
  ]
    .sort((a, b) => b.length - a.length)
    .join("|"),
  "g",
);

/** A leftover word that may be a name or value worth a search: not a function word, not one letter. */
function mayBeName(word: string): boolean {
  return word.length >= 3 && /[a-z0-9]/i.test(word) && !STOPWORDS.has(word.toLowerCase());
}

/**
 * Questions in English or Chinese, turned into the IR by phrase tables (language/<code>.json) and
 * the fleet's own vocabulary: offline and deterministic. Words the reader cannot place are searched
 * for as free text only when they may be names the fleet holds (context.knownWords), and are
 * otherwise ignored; both are reported, so the caller can say what was not understood.
 */
export function parseNaturalQuery(input: string, context: NaturalContext = {}): NaturalParse {
  const state: State = {
    context,
    known: indexVocabulary(context),
    text: "",
    items: [],
    span: [0, 0],
    kinds: [],
    restarted: false,
    aboutRestarts: false,
    count: false,
    groupBy: [],
    most: false,
  };
  // Separators between CJK and Latin text are optional in Chinese; spaces make \b work on both.
  // Every later step blanks what it reads with as many spaces, so positions stay those of `text`.
  const text = ` ${input
    .normalize("NFKC")
    .replace(/([\u4e00-\u9fff])([A-Za-z0-9])|([A-Za-z0-9])([\u4e00-\u9fff])/g, "$1$3 $2$4")
    .replace(/(\w)'s\b/g, "$1  ")
    // "3 or more replicas" says what "at least 3 replicas" says.
    .replace(/\b(\d+)\s+or\s+more\b/gi, "at least $1")
    .replace(/\b(\d+)\s+or\s+(?:fewer|less)\b/gi, "at most $1")} `;
  state.text = text;
  let rest = text;
  for (const [pattern, apply] of RULES) {
    rest = rest.replace(pattern, (...args) => {
      const match = args[0] as string;
      const offset = args.at(-2) as number;
      const groups = args.slice(1, -2) as (string | undefined)[];
      state.span = [offset, offset + match.length];
      const itemCount = state.items.length;
      try {
        if (apply(state, ...groups) === false) {
          state.items.length = itemCount;
          return match;
        }
      } catch (error) {
        // A phrase that looked like a label selector but is not one stays as text.
        if (error instanceof SelectorError) return match;
        throw error;
      }
      return " ".repeat(match.length);
    });
  }
  rest = placeWords(state, rest);
  // Whole words only: "node-1" is a name to search for, not the kind Node and "-1".
  rest = rest.replace(/(?<![\w.-])[A-Za-z]+(?![\w.-])/g, (word) => {
    const kind = kindOfWord(word);
    if (kind === undefined) return word;
    if (kind) state.kinds.push(kind);
    return " ".repeat(word.length);
  });
  const leftover = rest
    .replace(ZH_STOPWORDS, " ")
    .split(/[\s,，。;；!！'"“”()（）?？、:：]+/)
    .filter((word) => word && !STOPWORDS.has(word.toLowerCase()));
  const known = context.knownWords;
  const searched = leftover.filter((word) => mayBeName(word) && (!known || known.has(word)));
  const ignored = leftover.filter((word) => !searched.includes(word));

  if (state.which && state.kinds.length === 0) {
    // "which nodes are in zone-c": nothing else is asked about, so the nodes are what is wanted.
    state.kinds.push(state.which.kind);
    state.groupBy = state.groupBy.filter((field) => field !== state.which!.field);
    if (state.groupBy.length === 0 && !COUNTING.test(text) && !state.most) state.count = false;
  }
  if (state.kinds.length === 0 && state.defaultKind) state.kinds.push(state.defaultKind);
  const kinds = [...new Set(state.kinds)];
  const { scope, filters } = combine(state.items, text, kinds);
  const now = context.now ?? new Date();
  if (state.restarted || (state.aboutRestarts && state.window)) {
    if (kinds.length === 0) kinds.push("Pod");
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
  const where = and([...scope, ...kindCondition, ...filters]);
  const grouped = state.count || state.groupBy.length > 0;
  const limit = state.limit ?? (state.most && state.groupBy.length > 0 ? 1 : undefined);
  return {
    query: {
      ...(where ? { where } : {}),
      orderBy: [],
      ...(grouped ? { aggregate: { groupBy: state.groupBy } } : {}),
      ...(limit !== undefined ? { limit } : {}),
    },
    searched,
    ignored,
  };
}

/** An image's name as people say it: no registry, path, tag or digest ("ghcr.io/x/api:2.4" is "api"). */
export function imageName(image: string): string {
  const withoutDigest = image.split("@")[0]!;
  const last = withoutDigest.split("/").at(-1)!;
  return last.split(":")[0]!.toLowerCase();
}

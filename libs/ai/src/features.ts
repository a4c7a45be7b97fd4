import {
  AUDIT_RULES,
  DIAGNOSIS_GUIDE,
  type Obj,
  objectIssues,
  SEVERITY_WEIGHT,
  type Severity,
} from "@atoll/insight";
import YAML from "yaml";
import { Masker } from "./mask.js";
import { type ChatMessage, type ChatModelConfig, stream } from "./provider.js";

export type Language = "en" | "zh";
export const FEATURES = ["explain", "interpret", "diagnose"] as const;
export type Feature = (typeof FEATURES)[number];

/**
 * An operator's own prompts: a system prompt that replaces the built-in one, and per feature an
 * instruction that replaces the built-in question's lead. The rule about keeping placeholders
 * and the answer's language are always added, so masking and lang= keep working.
 */
export type Prompts = Partial<Record<"system" | Feature, string>>;

/** A finding as the issues table holds it. */
export interface IssueLike {
  rule: string;
  severity: string;
  message: string;
  kind?: string;
  namespace?: string;
  name?: string;
  container?: string;
}

/** What to ask: the question for a model, what identifies the user's systems in it, and what the rules alone can say. */
export interface Task {
  feature: Feature;
  /** What the model is asked to do; an operator's prompt for the feature replaces it. */
  instruction: string;
  /** What it is asked about: the objects, events, logs and findings. */
  material: string;
  /** Objects whose names, namespaces, labels, images and IPs are masked wherever they appear. */
  objects: Obj[];
  fallback: string;
}

export type AnswerEvent =
  | { type: "text"; text: string }
  | {
      type: "done";
      /** Who wrote the answer: the model, the built-in rules, or the model until it failed and then the rules. */
      source: "model" | "rules" | "model+rules";
      warning?: string;
      masked?: Record<string, number>;
    };

const INSTRUCTIONS: Record<Language, string> = {
  en: "Answer in English.",
  zh: "请用简体中文回答。",
};

const SYSTEM =
  "You are a Kubernetes site reliability engineer helping an operator. Be specific and brief: say what is wrong, why, and the steps to fix it, with kubectl commands where they help.";
const KEEP_PLACEHOLDERS =
  "Identifiers such as NAME_1, NS_2, LABEL_3, IP_4 and REPO_5 stand for real names; keep them exactly as written.";

const FALLBACK_LABEL: Record<Language, string> = {
  en: "Built-in explanation (from Atoll's rules; no language model answered)",
  zh: "内置解释（来自 Atoll 的规则，未经语言模型；规则说明为英文）",
};

function explanation(issue: IssueLike): string {
  const rule = AUDIT_RULES.find((r) => r.id === issue.rule);
  const where = issue.kind
    ? ` on ${issue.kind} ${issue.namespace ? `${issue.namespace}/` : ""}${issue.name}`
    : "";
  const container = issue.container ? ` (container ${issue.container})` : "";
  const lines = [`- ${issue.rule} [${issue.severity}]${where}${container}: ${issue.message}`];
  const guide = rule ?? DIAGNOSIS_GUIDE[issue.rule];
  if (guide) lines.push(`  Why: ${guide.why}`, `  Fix: ${guide.fix}`);
  return lines.join("\n");
}

/** Findings worst first, as a reader should meet them. */
const bySeverity = <T extends { severity: string }>(findings: T[]): T[] =>
  [...findings].sort(
    (a, b) => (SEVERITY_WEIGHT[b.severity as Severity] ?? 0) - (SEVERITY_WEIGHT[a.severity as Severity] ?? 0),
  );

/** Explain one finding or several, with steps to fix. */
export function explainTask(found: IssueLike[], objects: Obj[] = []): Task {
  const issues = bySeverity(found);
  const listed = issues.map(explanation).join("\n");
  return {
    feature: "explain",
    instruction: "Explain these findings about a Kubernetes cluster and give the steps to fix each:",
    material: issues
      .map(
        (i) =>
          `- ${i.rule} [${i.severity}] ${i.kind ?? ""} ${i.namespace ?? ""}/${i.name ?? ""}: ${i.message}`,
      )
      .join("\n"),
    objects: [...objects, ...issues.map((i) => ({ metadata: { name: i.name, namespace: i.namespace } }))],
    fallback: issues.length > 0 ? listed : "There are no findings to explain.",
  };
}

/** What an object is and does, and what the rules think of it. */
export function interpretTask(object: Obj): Task {
  // A manifest without a status has not run: runtime findings would be about nothing.
  const findings = bySeverity(objectIssues(object).filter((f) => object.status || f.category !== "Runtime"));
  const meta = object.metadata ?? {};
  const containers = (object.spec?.template?.spec?.containers ?? object.spec?.containers ?? []) as Obj[];
  const summary = [
    `${object.kind} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name} (${object.apiVersion ?? ""})`,
    ...(object.spec?.replicas !== undefined ? [`Replicas: ${object.spec.replicas}`] : []),
    ...containers.map((c) => `Container ${c.name}: image ${c.image ?? "?"}`),
    findings.length > 0 ? "What the rules found:" : "The rules found nothing to report.",
    ...findings.map((f) => explanation(f)),
  ];
  return {
    feature: "interpret",
    instruction:
      "Explain what this Kubernetes object does, point out risky or unusual settings, and suggest improvements:",
    material: YAML.stringify(object),
    objects: [object],
    fallback: summary.join("\n"),
  };
}

/** Each container's section of the logs ("--- pod / container" and its lines), cut to its last n lines. */
function lastLines(logs: string, n: number): string[] {
  const sections: string[][] = [];
  for (const line of logs.split("\n")) {
    if (line.startsWith("--- ") || sections.length === 0) sections.push([]);
    sections.at(-1)!.push(line);
  }
  return sections.flatMap((section) =>
    section[0]?.startsWith("--- ") ? [section[0], ...section.slice(1).slice(-n)] : section.slice(-n),
  );
}

/** Why a workload is unhealthy, from its status, events and the objects around it. */
export function diagnoseTask(workload: Obj, events: Obj[], related: Obj[], logs?: string): Task {
  const findings = bySeverity(
    [workload, ...related].flatMap((o) =>
      objectIssues(o).map((f) => ({
        ...f,
        kind: o.kind,
        namespace: o.metadata?.namespace,
        name: o.metadata?.name,
      })),
    ),
  );
  const eventLines = events.map(
    (e) =>
      `${e.lastTimestamp ?? e.eventTime ?? ""} ${e.type ?? ""} ${e.reason ?? ""} ${(e.involvedObject ?? e.regarding)?.kind ?? ""}/${(e.involvedObject ?? e.regarding)?.name ?? ""}: ${e.message ?? e.note ?? ""} (x${e.series?.count ?? e.count ?? 1})`,
  );
  const brief = (o: Obj) => ({
    kind: o.kind,
    metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace },
    status: o.status,
  });
  return {
    feature: "diagnose",
    instruction:
      "Diagnose this Kubernetes workload: what is wrong, the most likely cause, and the steps to fix it.",
    material: [
      `Workload:\n${YAML.stringify({ ...workload, metadata: { ...workload.metadata, managedFields: undefined } })}`,
      `Related objects (status only):\n${YAML.stringify(related.map(brief))}`,
      `Events, newest first:\n${eventLines.join("\n") || "(none)"}`,
      ...(logs ? [`Recent logs:\n${logs}`] : []),
      `Findings of the built-in rules:\n${findings.map((f) => `- ${f.rule} [${f.severity}] ${f.kind}/${f.name}: ${f.message}`).join("\n") || "(none)"}`,
    ].join("\n\n"),
    objects: [workload, ...related, ...events],
    fallback: [
      findings.length > 0
        ? "What the rules found:"
        : "The rules found nothing wrong with the workload or the objects around it.",
      ...findings.map((f) => explanation(f)),
      ...(eventLines.length > 0 ? ["Recent events:", ...eventLines.slice(0, 10).map((l) => `- ${l}`)] : []),
      ...(logs ? ["Recent logs (last lines):", ...lastLines(logs, 10)] : []),
    ].join("\n"),
  };
}

/** The messages a model is sent for a task, with every sensitive value already masked. */
function maskedPrompt(
  task: Task,
  language: Language,
  prompts: Prompts = {},
): { messages: ChatMessage[]; masker: Masker } {
  const masker = new Masker();
  for (const object of task.objects) masker.learn(object);
  const system = [prompts.system ?? SYSTEM, KEEP_PLACEHOLDERS, INSTRUCTIONS[language]].join("\n");
  return {
    messages: [
      { role: "system", content: system },
      {
        role: "user",
        content: masker.mask(`${prompts[task.feature] ?? task.instruction}\n\n${task.material}`),
      },
    ],
    masker,
  };
}

/**
 * Exactly what would be sent to a model for a task, without sending it: to review what leaves
 * the hub, or to put the question to a model of one's own. The placeholders map each masked
 * token back to its value, for unmasking that model's answer.
 */
export function promptPreview(
  task: Task,
  language: Language = "en",
  prompts: Prompts = {},
): { messages: ChatMessage[]; placeholders: Record<string, string>; masked: ReturnType<Masker["summary"]> } {
  const { messages, masker } = maskedPrompt(task, language, prompts);
  return { messages, placeholders: masker.placeholders(), masked: masker.summary() };
}

/**
 * Answers a task as a stream of events. With a model, the question leaves masked and the answer
 * comes back unmasked as it is written; without one, or when the model fails, the rules' own
 * explanation answers, labelled as such. It never throws.
 */
export async function* answer(
  task: Task,
  options: { model?: ChatModelConfig; language?: Language; prompts?: Prompts; fetchImpl?: typeof fetch },
): AsyncGenerator<AnswerEvent> {
  const language = options.language ?? "en";
  const fallback = `${FALLBACK_LABEL[language]}:\n${task.fallback}`;
  if (!options.model) {
    yield { type: "text", text: fallback };
    yield { type: "done", source: "rules", warning: "no language model is configured (ATOLL_LLM_BASE_URL)" };
    return;
  }
  const { messages, masker } = maskedPrompt(task, language, options.prompts);
  let wrote = false;
  try {
    for await (const text of masker.unmaskStream(stream(messages, options.model, options.fetchImpl))) {
      wrote = true;
      yield { type: "text", text };
    }
    yield { type: "done", source: "model", masked: masker.summary() };
  } catch (error) {
    const reason = (error as Error).message;
    yield { type: "text", text: wrote ? `\n\n${fallback}` : fallback };
    yield {
      type: "done",
      source: wrote ? "model+rules" : "rules",
      warning: `the language model failed (${reason}); the built-in rules answered${wrote ? " after its partial answer" : ""}`,
      masked: masker.summary(),
    };
  }
}

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeSim } from "@atoll/kube-sim";
import { parse } from "yaml";
import { TestHub } from "../support/hub.js";
import { kubectl } from "../support/kubectl.js";
import { fleetSims } from "./fleet.js";

/**
 * The plain-language evaluation: questions an SRE would type about the eval fleet, in English and
 * Chinese, each with the answer written in Atoll's SQL. A question is exact when the hub's reading
 * of it returns the same rows (or the same groups and counts) as its SQL.
 */
export interface EvalQuestion {
  language: "en" | "zh";
  /** What the question exercises; scores are printed by class. */
  class: string;
  /**
   * Written after the reader was finished and scored before any change to it (heldout.<lang>.yaml):
   * their score says how the reader does on phrasings it was not built against.
   */
  heldOut: boolean;
  q: string;
  /**
   * The answer in Atoll's SQL. `{ago:1h}` stands for the time that long before the run, for
   * questions about recent restarts, which SQL can only say with a timestamp.
   */
  sql: string;
  /**
   * kubectl arguments (after `get`) that list the same objects, run on every cluster or, after
   * "cluster:", on that one: the check that the SQL says what the question means.
   */
  kubectl?: string;
}

export const CLASSES = ["leftover", "grouping", "concepts", "labels", "scope", "logic", "time", "ownership"];

export function loadQuestions(): EvalQuestion[] {
  const questions: EvalQuestion[] = [];
  for (const language of ["en", "zh"] as const)
    for (const heldOut of [false, true]) {
      const file = join(import.meta.dirname, `${heldOut ? "heldout" : "questions"}.${language}.yaml`);
      const entries = parse(readFileSync(file, "utf8")) as Omit<EvalQuestion, "language" | "heldOut">[];
      for (const entry of entries) {
        if (!CLASSES.includes(entry.class))
          throw new Error(`${file}: "${entry.q}" has unknown class ${entry.class}`);
        questions.push({ ...entry, language, heldOut });
      }
    }
  return questions;
}

export function withTimes(sql: string, now: Date): string {
  return sql.replace(/\{ago:(\d+)([mhd])\}/g, (_, amount: string, unit: string) => {
    const seconds = Number(amount) * { m: 60, h: 3600, d: 86_400 }[unit as "m" | "h" | "d"];
    return new Date(now.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  });
}

interface SearchAnswer {
  items: { cluster: string; kind: string; namespace: string; name: string }[];
  aggregations?: { key: Record<string, unknown>; count: number }[];
  total: number;
  sql: string;
  interpretation?: { ignored: string[]; searched: string[] };
}

/** Rows as sorted keys, or groups in the order the answer gives them (it matters for top-N). */
function answerKey(answer: SearchAnswer): string[] {
  if (answer.aggregations)
    return answer.aggregations.map((g) => `${JSON.stringify(Object.values(g.key))}=${g.count}`);
  return answer.items.map((i) => `${i.cluster}/${i.kind}/${i.namespace}/${i.name}`).sort();
}

export interface EvalResult {
  question: EvalQuestion;
  exact: boolean;
  expected: string[];
  actual: string[];
  readAs: string;
  ignored: string[];
  /** Set when the question's own SQL or kubectl check is wrong: a defect of the set, not the reader. */
  setError?: string;
}

async function search(hub: TestHub, mode: "sql" | "nl", q: string): Promise<SearchAnswer> {
  const response = await hub.fetch(`/api/v1/search?mode=${mode}&limit=1000&q=${encodeURIComponent(q)}`);
  const body = await response.json();
  if (!response.ok) throw new Error(`${mode} "${q}": ${response.status} ${JSON.stringify(body)}`);
  return body as SearchAnswer;
}

/** The objects kubectl lists for a question, as cluster/namespace/name. */
async function kubectlKeys(check: string, sims: KubeSim[], dir: string) {
  const [, only, args] = /^(?:([\w-]+):\s+)?(.*)$/.exec(check)!;
  const keys: string[] = [];
  for (const sim of sims.filter((s) => !only || s.name === only)) {
    const kubeconfig = join(dir, `${sim.name}.kubeconfig`);
    const output = await kubectl(kubeconfig, [
      "get",
      // Arguments split at spaces, except inside double quotes (a set-based label selector).
      ...(args!.match(/"[^"]*"|\S+/g) ?? []).map((arg) => arg.replace(/^"|"$/g, "")),
      "--no-headers",
      "-o",
      "custom-columns=NS:.metadata.namespace,NAME:.metadata.name",
    ]);
    for (const line of output.split("\n").filter(Boolean)) {
      const [namespace, name] = line.trim().split(/\s+/);
      keys.push(`${sim.name}/${namespace === "<none>" ? "" : namespace}/${name}`);
    }
  }
  return keys.sort();
}

/** Runs every question through the hub; the sims back the kubectl checks (their kubeconfigs are in hub.dir). */
export async function runLanguageEval(hub: TestHub, sims: KubeSim[]): Promise<EvalResult[]> {
  const now = new Date();
  const results: EvalResult[] = [];
  for (const question of loadQuestions()) {
    const result: EvalResult = { question, exact: false, expected: [], actual: [], readAs: "", ignored: [] };
    try {
      const expected = await search(hub, "sql", withTimes(question.sql, now));
      result.expected = answerKey(expected);
      if (result.expected.length === 0) result.setError = "its SQL answer is empty";
      if (question.kubectl) {
        const listed = await kubectlKeys(question.kubectl, sims, hub.dir);
        const answered = expected.items.map((i) => `${i.cluster}/${i.namespace}/${i.name}`).sort();
        if (listed.join("\n") !== answered.join("\n"))
          result.setError = `kubectl get ${question.kubectl} lists ${listed.length} objects, the SQL ${answered.length}`;
      }
    } catch (error) {
      result.setError = (error as Error).message;
    }
    try {
      const actual = await search(hub, "nl", question.q);
      result.actual = answerKey(actual);
      result.readAs = actual.sql;
      result.ignored = actual.interpretation?.ignored ?? [];
      result.exact = !result.setError && result.actual.join("\n") === result.expected.join("\n");
    } catch (error) {
      result.readAs = `error: ${(error as Error).message}`;
    }
    results.push(result);
  }
  return results;
}

export interface Score {
  exact: number;
  total: number;
}

export function scores(results: EvalResult[]): Map<string, Score> {
  const table = new Map<string, Score>();
  const add = (key: string, exact: boolean) => {
    const score = table.get(key) ?? { exact: 0, total: 0 };
    score.total += 1;
    if (exact) score.exact += 1;
    table.set(key, score);
  };
  for (const result of results) {
    add(result.question.language, result.exact);
    add(`${result.question.language} ${result.question.class}`, result.exact);
    if (result.question.heldOut) add(`${result.question.language} held out`, result.exact);
  }
  return table;
}

export const percent = (score: Score) => (100 * score.exact) / score.total;

/** The score table, by language and then by class, and every miss with how it was read. */
export function report(results: EvalResult[]): string {
  const lines: string[] = [];
  const table = scores(results);
  for (const language of ["en", "zh"]) {
    const overall = table.get(language)!;
    lines.push(`${language}: ${overall.exact}/${overall.total} exact (${percent(overall).toFixed(1)} %)`);
    for (const cls of [...CLASSES, "held out"]) {
      const score = table.get(`${language} ${cls}`);
      if (score) lines.push(`  ${cls.padEnd(10)} ${score.exact}/${score.total}`);
    }
  }
  const misses = results.filter((r) => !r.exact);
  if (misses.length) lines.push("", "misses:");
  for (const miss of misses) {
    const held = miss.question.heldOut ? " held out" : "";
    lines.push(`- [${miss.question.language} ${miss.question.class}${held}] ${miss.question.q}`);
    if (miss.setError) lines.push(`    the question's answer is wrong: ${miss.setError}`);
    lines.push(`    read as: ${miss.readAs}`);
    if (miss.ignored.length) lines.push(`    ignored: ${miss.ignored.join(", ")}`);
    lines.push(`    expected ${miss.expected.length} rows, got ${miss.actual.length}`);
  }
  return lines.join("\n");
}

/** The fleet served by kube-sim, synced by real agents into a hub of real services. */
export async function startEvalHub(): Promise<{ hub: TestHub; sims: KubeSim[]; stop(): Promise<void> }> {
  const sims = fleetSims();
  await Promise.all(sims.map((sim) => sim.start()));
  const hub = await new TestHub().start();
  for (const sim of sims) hub.startAgent(sim);
  for (const sim of sims) await hub.waitIndexed(sim, 90_000);
  return {
    hub,
    sims,
    async stop() {
      await hub.stop();
      await Promise.all(sims.map((sim) => sim.stop()));
    },
  };
}

import { and, type Condition, column, type Query, QueryError, resolveKind } from "@atoll/ir";
import { parseLabelSelector, SelectorError } from "@atoll/kube";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** The longest duration taken, 100 years: past it dates stop being dates (JavaScript's and Postgres'). */
const MAX_DURATION_SECONDS = 100 * 365 * 86_400;

/** A duration such as 30s, 10m, 1h, 2d or 1w, in seconds, at most 100 years. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,15})([smhdw])$/.exec(text);
  if (!match)
    throw new QueryError(
      "INVALID_DURATION",
      `"${text.slice(0, 40)}" is not a duration; write a number and a unit: 30s, 10m, 1h, 2d, 1w`,
    );
  const seconds = Number(match[1]) * UNITS[match[2]!]!;
  if (seconds > MAX_DURATION_SECONDS)
    throw new QueryError(
      "INVALID_DURATION",
      `"${text}" is longer than 100 years, the longest duration taken`,
    );
  return seconds;
}

/** Splits on spaces, keeping "in (a, b)" groups and quoted phrases together. */
function tokenize(input: string): string[] {
  const tokens: string[] = [];
  const pattern = /"([^"]*)"|(\S+\s+(?:not)?in\s*\([^)]*\))|(\S+)/gi;
  for (const match of input.matchAll(pattern)) tokens.push(match[1] ?? match[2] ?? match[3]!);
  return tokens;
}

/** An exact name, or a pattern where * stands for any run of characters. */
export function nameCondition(value: string): Condition {
  if (!value.includes("*")) return { type: "compare", field: column("name"), op: "=", value };
  const pattern = value.replace(/[%_\\]/g, (c) => `\\${c}`).replace(/\*/g, "%");
  return { type: "like", field: column("name"), pattern, negated: false, caseInsensitive: false };
}

const FILTERS: Record<string, (value: string) => Condition> = {
  cluster: (v) => ({ type: "compare", field: column("cluster"), op: "=", value: v }),
  kind: (v) => ({ type: "compare", field: column("kind"), op: "=", value: resolveKind(v) }),
  ns: (v) => ({ type: "compare", field: column("namespace"), op: "=", value: v }),
  namespace: (v) => ({ type: "compare", field: column("namespace"), op: "=", value: v }),
  name: (v) => nameCondition(v),
  status: (v) => ({ type: "status", value: v }),
  condition: (v) => {
    const match = /^([\w.-]+)(!?=)([\w.-]+)$/.exec(v);
    if (!match)
      throw new QueryError(
        "INVALID_FILTER",
        `condition:${v} needs a condition type and a status: write condition:Ready=True or condition:Ready!=True`,
      );
    return { type: "condition", name: match[1]!, status: match[3]!, negated: match[2] === "!=" };
  },
};

const FILTER_EXAMPLES: Record<string, string> = {
  cluster: "eu-1",
  kind: "Deployment",
  ns: "prod",
  namespace: "prod",
  name: "web-*",
  status: "CrashLoopBackOff",
  condition: "Ready!=True",
};

/**
 * The keyword language: free words, key:value filters (cluster, kind, ns, name with * wildcards,
 * status, condition:Ready!=True), label requirements (app=web, app!=web, app in (a,b), !app) and age<1h / age>7d.
 * Everything is ANDed.
 */
export function parseKeywordQuery(input: string): Query {
  const opened = input.indexOf("(");
  if ((input.match(/\(/g) ?? []).length !== (input.match(/\)/g) ?? []).length) {
    throw new QueryError(
      "UNBALANCED_PARENTHESES",
      "a parenthesis is not closed",
      opened >= 0 ? opened + 1 : undefined,
      "write sets as key in (a,b)",
    );
  }
  const conditions: Condition[] = [];
  const words: string[] = [];
  for (const token of tokenize(input.trim())) {
    const age = /^age([<>])(.+)$/.exec(token);
    if (age) {
      conditions.push({ type: "age", op: age[1] as "<" | ">", seconds: parseDuration(age[2]!) });
      continue;
    }
    const bare = /^([a-z]+):$/.exec(token);
    if (bare && FILTERS[bare[1]!])
      throw new QueryError(
        "MISSING_VALUE",
        `the filter "${bare[1]}:" has no value`,
        input.indexOf(token) + 1,
        `write it with its value and no space, for example ${bare[1]}:${FILTER_EXAMPLES[bare[1]!] ?? "value"}`,
      );
    const filter = /^([a-z]+):(.+)$/.exec(token);
    if (filter && FILTERS[filter[1]!]) {
      conditions.push(FILTERS[filter[1]!]!(filter[2]!));
      continue;
    }
    if (filter) {
      throw new QueryError(
        "UNKNOWN_FILTER",
        `unknown filter "${filter[1]}:"`,
        input.indexOf(token) + 1,
        `use one of ${Object.keys(FILTERS).join(", ")}, or age<1h`,
      );
    }
    if (/[=!]|\s(not)?in\s*\(/i.test(token)) {
      try {
        for (const requirement of parseLabelSelector(token)) conditions.push({ type: "label", requirement });
      } catch (error) {
        if (error instanceof SelectorError)
          throw new QueryError("INVALID_SELECTOR", error.message, input.indexOf(token) + 1);
        throw error;
      }
      continue;
    }
    words.push(token);
  }
  if (words.length > 0) conditions.push({ type: "text", words });
  const where = and(conditions);
  return { ...(where ? { where } : {}), orderBy: [] };
}

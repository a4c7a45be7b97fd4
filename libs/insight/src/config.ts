import { readYamlMapping } from "@atoll/config";
import { parseJsonPath } from "@atoll/kube";
import { AUDIT_RULES, CATEGORIES, type InsightConfig, SEVERITIES } from "./audit.js";
import type { CustomRelation } from "./topology.js";

/** The rule configuration and custom topology relations, from one YAML file (ATOLL_INSIGHT_CONFIG). */
export interface InsightFile extends InsightConfig {
  relations?: CustomRelation[];
}

export class InsightConfigError extends Error {
  readonly code = "INVALID_INSIGHT_CONFIG";
}

/** What is wrong with a parsed configuration, each problem saying what to fix; empty when valid. */
export function insightConfigProblems(parsed: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = new Set(AUDIT_RULES.map((r) => r.id));
  problems.push(...customRuleProblems(parsed.customRules, known));
  for (const id of Object.keys(isMapping(parsed.customRules) ? parsed.customRules : {})) known.add(id);
  const severity = (parsed.severity ?? {}) as Record<string, unknown>;
  // Diagnosis rule ids are capitalised (CrashLoopBackOff); audit ids must be known.
  for (const id of [...((parsed.disabled ?? []) as string[]), ...Object.keys(severity)])
    if (!known.has(id) && !/^[A-Z]/.test(id))
      problems.push(`unknown rule "${id}"; see the rules in docs/insight.md`);
  for (const value of Object.values(severity))
    if (!SEVERITIES.includes(value as never))
      problems.push(`severity "${String(value)}" is not one of ${SEVERITIES.join(", ")}`);
  for (const [i, relation] of ((parsed.relations ?? []) as Record<string, unknown>[]).entries()) {
    for (const field of ["kind", "path", "targetKind"])
      if (typeof relation?.[field] !== "string" || !relation[field])
        problems.push(`relations[${i}].${field} is required (a string)`);
    if (typeof relation?.path === "string")
      try {
        parseJsonPath(relation.path.startsWith(".") ? relation.path : `.${relation.path}`);
      } catch (error) {
        problems.push(`relations[${i}].path: ${(error as Error).message}`);
      }
  }
  return problems;
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const TARGETS = "Controller, PodSpec, PodTemplate, Container, or a kind such as networking.k8s.io/Ingress";

/** Every `pattern` in a schema, with where it is, so a bad one is caught when the file is read. */
function patternsIn(schema: unknown, path: string): [string, string][] {
  if (!isMapping(schema) && !Array.isArray(schema)) return [];
  return Object.entries(schema).flatMap(([key, value]): [string, string][] =>
    key === "pattern" && typeof value === "string"
      ? [[`${path}.pattern`, value]]
      : patternsIn(value, `${path}.${key}`),
  );
}

function customRuleProblems(customRules: unknown, builtIn: Set<string>): string[] {
  if (customRules === undefined) return [];
  if (!isMapping(customRules)) return ["customRules must be a mapping from rule id to rule"];
  const problems: string[] = [];
  for (const [id, definition] of Object.entries(customRules)) {
    const at = `customRules.${id}`;
    if (builtIn.has(id)) problems.push(`${at}: "${id}" is a built-in rule; give the custom rule another id`);
    if (!/^[A-Za-z][\w-]*$/.test(id))
      problems.push(`${at}: a rule id is letters, digits, "-" and "_", starting with a letter`);
    if (!isMapping(definition)) {
      problems.push(`${at} must be a mapping with target and schema`);
      continue;
    }
    if (typeof definition.target !== "string" || !definition.target)
      problems.push(`${at}.target is required: ${TARGETS}`);
    if (!isMapping(definition.schema)) problems.push(`${at}.schema is required: a JSON Schema mapping`);
    if (definition.severity !== undefined && !SEVERITIES.includes(definition.severity as never))
      problems.push(`${at}.severity "${String(definition.severity)}" is not one of ${SEVERITIES.join(", ")}`);
    if (definition.category !== undefined && !CATEGORIES.includes(definition.category as never))
      problems.push(`${at}.category "${String(definition.category)}" is not one of ${CATEGORIES.join(", ")}`);
    for (const [path, pattern] of patternsIn(definition.schema, `${at}.schema`))
      try {
        new RegExp(pattern);
      } catch (error) {
        problems.push(`${path}: ${(error as Error).message}`);
      }
  }
  return problems;
}

/** Reads the file; a mistake in it stops the service with what to fix. */
export function readInsightConfig(path: string): InsightFile {
  return readYamlMapping<InsightFile>(path, {
    expected: "a mapping with disabled, severity, exemptions, customRules or relations",
    problemsOf: insightConfigProblems,
    fail: (message) => new InsightConfigError(message),
  });
}

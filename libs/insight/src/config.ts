import { readFileSync } from "node:fs";
import { parseJsonPath } from "@atoll/kube";
import YAML from "yaml";
import { AUDIT_RULES, type InsightConfig, SEVERITIES } from "./audit.js";
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
  const severity = (parsed.severity ?? {}) as Record<string, unknown>;
  // Diagnosis rule ids are capitalised (CrashLoopBackOff); audit ids must be known.
  for (const id of [...((parsed.disabled ?? []) as string[]), ...Object.keys(severity)])
    if (!known.has(id) && !/^[A-Z]/.test(id))
      problems.push(`unknown rule "${id}"; see the rules in the README`);
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

/** Reads the file; a mistake in it stops the service with what to fix. */
export function readInsightConfig(path: string): InsightFile {
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(path, "utf8")) ?? {};
  } catch (error) {
    throw new InsightConfigError(`${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || Array.isArray(parsed))
    throw new InsightConfigError(
      `${path}: expected a mapping with disabled, severity, exemptions or relations`,
    );
  const problems = insightConfigProblems(parsed as Record<string, unknown>);
  if (problems.length > 0) throw new InsightConfigError(`${path}: ${problems.join("; ")}`);
  return parsed as InsightFile;
}

import { AUDIT_RULES, type AuditRule, audit, customRule } from "@atoll/insight";
import type { Handler } from "./runner.js";

// biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
type Any = any;

/**
 * Polaris fixtures, replayed by the rules in research/diagnosis.md §2.1: only the vector's check
 * runs, over every document of the fixture as one set; failure means at least one failing result,
 * success at least one passing result and none failing.
 */
export const polarisHandler: Handler = (_input, _expected, vector: Any) => {
  const rule: AuditRule | undefined = vector.custom_check_definition
    ? customRule(vector.check, vector.custom_check_definition)
    : AUDIT_RULES.find((r) => r.id === vector.check);
  if (!rule) return `no audit rule "${vector.check}"`;
  const objects = Array.isArray(vector.manifest) ? vector.manifest : [vector.manifest];
  const findings = audit(objects, [rule]);
  if (findings.length === 0) return "the rule found nothing to check";
  const failed = findings.filter((f) => !f.passed).length;
  const verdict = failed > 0 ? "failure" : "success";
  return verdict === vector.verdict
    ? undefined
    : `expected ${vector.verdict}, got ${verdict} (${findings.length - failed} passed, ${failed} failed)`;
};

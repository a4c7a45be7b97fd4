import { describe, expect, it } from "vitest";
import { AUDIT_RULES, audit, type InsightConfig } from "./audit.js";
import { objectIssues } from "./diagnosis.js";
import type { Obj } from "./objects.js";

const pod = (name: string, annotations: Obj = {}, namespace = "shop"): Obj => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, annotations },
  spec: { containers: [{ name: "main", image: "nginx", securityContext: { privileged: true } }] },
});

const failed = (objects: Obj[], config?: InsightConfig) =>
  audit(objects, AUDIT_RULES, config)
    .filter((f) => !f.passed)
    .map((f) => `${f.name}:${f.rule}:${f.severity}`);

describe("rule configuration", () => {
  it("every rule says what it checks, why it matters and how to fix it, with one of five severities", () => {
    for (const rule of AUDIT_RULES) {
      expect(rule.description.length, rule.id).toBeGreaterThan(10);
      expect(rule.why.length, rule.id).toBeGreaterThan(10);
      expect(rule.fix.length, rule.id).toBeGreaterThan(5);
      expect(["info", "low", "medium", "high", "critical"]).toContain(rule.severity);
    }
    expect(new Set(AUDIT_RULES.map((r) => r.id)).size).toBe(AUDIT_RULES.length);
  });

  it("disables rules and changes severities", () => {
    const before = failed([pod("a")]);
    expect(before).toContain("a:runAsPrivileged:critical");
    expect(before).toContain("a:tagNotSpecified:high");
    const after = failed([pod("a")], { disabled: ["tagNotSpecified"], severity: { runAsPrivileged: "low" } });
    expect(after).toContain("a:runAsPrivileged:low");
    expect(after.some((f) => f.includes("tagNotSpecified"))).toBe(false);
  });

  it("exempts by annotation, for all rules or one", () => {
    expect(failed([pod("a", { "atoll.dev/exempt": "true" })])).toEqual([]);
    const one = failed([pod("b", { "atoll.dev/runAsPrivileged-exempt": "true" })]);
    expect(one.some((f) => f.includes("runAsPrivileged"))).toBe(false);
    expect(one.some((f) => f.includes("tagNotSpecified"))).toBe(true);
  });

  it("exempts by namespace and name from the config", () => {
    const config: InsightConfig = {
      exemptions: [{ namespace: "kube-system" }, { names: ["b"], rules: ["tagNotSpecified"] }],
    };
    expect(failed([pod("a", {}, "kube-system")], config)).toEqual([]);
    const b = failed([pod("b")], config);
    expect(b.some((f) => f.includes("tagNotSpecified"))).toBe(false);
    expect(b.some((f) => f.includes("runAsPrivileged"))).toBe(true);
  });

  it("applies the same configuration to what the indexer records", () => {
    const issues = objectIssues(pod("a"), { disabled: ["runAsPrivileged"] }).map((i) => i.rule);
    expect(issues).toContain("tagNotSpecified");
    expect(issues).not.toContain("runAsPrivileged");
    expect(objectIssues(pod("a", { "atoll.dev/exempt": "true" }))).toEqual([]);
  });
});

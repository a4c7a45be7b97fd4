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

/** A pod whose one container has the given security context, under the given pod context and annotations. */
const securedPod = (container: Obj, podContext: Obj = {}, annotations: Obj = {}): Obj => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "shop", annotations },
  spec: {
    securityContext: podContext,
    containers: [{ name: "main", image: "nginx:1.27", securityContext: container }],
  },
});

const failedRules = (object: Obj, rules: string[]) =>
  audit([object], AUDIT_RULES)
    .filter((f) => !f.passed && rules.includes(f.rule))
    .map((f) => f.rule)
    .sort();

describe("kubeaudit's seccomp and AppArmor checks", () => {
  const rules = ["appArmorDisabled", "seccompDisabled", "seccompProfileMissing"];
  it.each([
    ["no profile anywhere", securedPod({}), ["seccompProfileMissing"]],
    ["RuntimeDefault on the pod", securedPod({}, { seccompProfile: { type: "RuntimeDefault" } }), []],
    ["Localhost on the container", securedPod({ seccompProfile: { type: "Localhost" } }), []],
    [
      "Unconfined on the container overriding the pod's RuntimeDefault",
      securedPod({ seccompProfile: { type: "Unconfined" } }, { seccompProfile: { type: "RuntimeDefault" } }),
      ["seccompDisabled"],
    ],
    [
      "the container's RuntimeDefault overriding the pod's Unconfined",
      securedPod({ seccompProfile: { type: "RuntimeDefault" } }, { seccompProfile: { type: "Unconfined" } }),
      [],
    ],
    [
      "the legacy pod annotation set to unconfined",
      securedPod({}, {}, { "seccomp.security.alpha.kubernetes.io/pod": "unconfined" }),
      ["seccompDisabled"],
    ],
    [
      "the legacy container annotation set to runtime/default",
      securedPod({}, {}, { "container.seccomp.security.alpha.kubernetes.io/main": "runtime/default" }),
      [],
    ],
    [
      "AppArmor Unconfined on the pod",
      securedPod({}, { seccompProfile: { type: "RuntimeDefault" }, appArmorProfile: { type: "Unconfined" } }),
      ["appArmorDisabled"],
    ],
    [
      "AppArmor unconfined by the annotation",
      securedPod(
        { seccompProfile: { type: "RuntimeDefault" } },
        {},
        { "container.apparmor.security.beta.kubernetes.io/main": "unconfined" },
      ),
      ["appArmorDisabled"],
    ],
    [
      "the container's AppArmor RuntimeDefault overriding the pod's Unconfined",
      securedPod(
        { seccompProfile: { type: "RuntimeDefault" }, appArmorProfile: { type: "RuntimeDefault" } },
        { appArmorProfile: { type: "Unconfined" } },
      ),
      [],
    ],
  ])("%s", (_, object, expected) => {
    expect(failedRules(object, rules)).toEqual(expected);
  });
});

describe("API versions Kubernetes no longer serves", () => {
  it.each([
    ["extensions/v1beta1", "Ingress", "networking.k8s.io/v1", "1.22"],
    ["batch/v1beta1", "CronJob", "batch/v1", "1.25"],
    ["autoscaling/v2beta2", "HorizontalPodAutoscaler", "autoscaling/v2", "1.26"],
    ["flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1", "1.32"],
  ])("%s %s is flagged with its replacement", (apiVersion, kind, replacement, release) => {
    const object = { apiVersion, kind, metadata: { name: "x", namespace: "shop" } };
    const finding = audit([object], AUDIT_RULES).find((f) => f.rule === "deprecatedApiVersion");
    expect(finding?.passed).toBe(false);
    expect(finding?.message).toContain(`apiVersion ${replacement}`);
    expect(finding?.message).toContain(`Kubernetes ${release}`);
    expect(objectIssues(object).find((i) => i.rule === "deprecatedApiVersion")?.message).toBe(
      finding?.message,
    );
  });

  it("names the successor of an API that has none", () => {
    const psp = { apiVersion: "policy/v1beta1", kind: "PodSecurityPolicy", metadata: { name: "restricted" } };
    expect(audit([psp], AUDIT_RULES).find((f) => f.rule === "deprecatedApiVersion")?.message).toContain(
      "Pod Security Admission",
    );
  });

  it.each([
    ["apps/v1", "Deployment"],
    ["networking.k8s.io/v1", "Ingress"],
    ["policy/v1", "PodDisruptionBudget"],
    // The version is one Kubernetes removed, but for other kinds than this one.
    ["extensions/v1beta1", "StatefulSet"],
    ["example.com/v1beta1", "Widget"],
  ])("passes %s %s", (apiVersion, kind) => {
    const object = { apiVersion, kind, metadata: { name: "x", namespace: "shop" } };
    const finding = audit([object], AUDIT_RULES).find((f) => f.rule === "deprecatedApiVersion");
    expect(finding?.passed).toBe(true);
    expect(finding?.message).toBe(AUDIT_RULES.find((r) => r.id === "deprecatedApiVersion")!.description);
  });
});

describe("owned workloads", () => {
  const spec = { containers: [{ name: "main", image: "nginx", securityContext: { privileged: true } }] };
  const owned = (kind: string, name: string, owner?: { kind: string; name: string }): Obj => ({
    apiVersion: kind === "Pod" ? "v1" : "apps/v1",
    kind,
    metadata: {
      name,
      namespace: "shop",
      ...(owner
        ? {
            ownerReferences: [
              { apiVersion: "apps/v1", controller: true, uid: `uid-${owner.name}`, ...owner },
            ],
          }
        : {}),
    },
    spec: kind === "Pod" ? spec : { replicas: 2, template: { metadata: { labels: { app: name } }, spec } },
  });

  it("audits the spec a person wrote once, on the top workload, not on every ReplicaSet and pod it runs", () => {
    const objects = [
      owned("Deployment", "web"),
      owned("ReplicaSet", "web-5d9f", { kind: "Deployment", name: "web" }),
      owned("Pod", "web-5d9f-x1", { kind: "ReplicaSet", name: "web-5d9f" }),
      owned("Pod", "web-5d9f-x2", { kind: "ReplicaSet", name: "web-5d9f" }),
    ];
    const privileged = failed(objects).filter((f) => f.includes("runAsPrivileged"));
    expect(privileged).toEqual(["web:runAsPrivileged:critical"]);
  });

  it("still audits a bare pod, and one whose controller Atoll does not audit", () => {
    const rollout = owned("Pod", "canary-x1", { kind: "Rollout", name: "canary" });
    const findings = failed([owned("Pod", "debug"), rollout]).filter((f) => f.includes("runAsPrivileged"));
    expect(findings.sort()).toEqual(["canary-x1:runAsPrivileged:critical", "debug:runAsPrivileged:critical"]);
  });
});

import { describe, expect, it } from "vitest";
import { type DocumentsError, parseDocuments } from "./policy.js";

const policy = (spec: string, kind = "PropagationPolicy") => `apiVersion: policy.karmada.io/v1alpha1
kind: ${kind}
metadata:
  name: p
  namespace: shop
spec:
${spec}`;

function problemsOf(text: string): string[] {
  try {
    parseDocuments(text);
    return [];
  } catch (error) {
    return (error as DocumentsError).problems;
  }
}

describe("policy documents", () => {
  it("refuses a NUL character, naming where it is, since it could not be stored or delivered as written", () => {
    const configMap = (data: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: shop }\ndata: ${data}\n`;
    expect(problemsOf(configMap('{ k: "a\\0b" }'))).toEqual([
      "document 1 (ConfigMap shop/c): data.k contains a NUL character (\\0), which cannot be stored; remove it",
    ]);
    expect(problemsOf(configMap('{ "k\\0": v }'))[0]).toMatch(
      /^document 1 \(ConfigMap shop\/c\): data\.k\\0 contains/,
    );
    expect(problemsOf(`${configMap('{ list: [a, "\\0"] }')}`)[0]).toMatch(/data\.list\[1\] contains/);
    expect(problemsOf(configMap('{ k: "a\\\\0b" }'))).toEqual([]);
  });

  it.each([
    ["v1", "Node", /a Node belongs to the cluster it is in and cannot be placed/],
    ["v1", "Event", /a Event belongs to the cluster it is in/],
    ["authorization.k8s.io/v1", "SelfSubjectAccessReview", /cannot be placed/],
    ["apps/v1", "Deploymnet", /apps\/v1 has no kind Deploymnet; its kinds are .*Deployment/],
    ["v1", "ConfigMapp", /v1 has no kind ConfigMapp; its kinds are .*ConfigMap/],
  ])("refuses a %s %s template the hub could not place, saying why", (apiVersion, kind, why) => {
    const problems = problemsOf(`apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: { name: x }\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(why);
  });

  it("takes custom resources, which the clusters that serve their CRD will place", () => {
    expect(problemsOf("apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n")).toEqual([]);
    expect(problemsOf("apiVersion: example.com/v1\nkind: Node\nmetadata: { name: n }\n")).toEqual([]);
  });

  it("separates policies from templates and fills the webhook's defaults", () => {
    const parsed = parseDocuments(`${policy(`  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
  placement:
    spreadConstraints:
      - maxGroups: 2
    replicaScheduling:
      replicaSchedulingType: Divided`)}
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec: { replicas: 3 }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata: { name: images }
spec:
  overrideRules:
    - overriders:
        imageOverrider: [{ component: Registry, operator: replace, value: mirror.example }]
`);
    expect(parsed.templates.map((t) => t.metadata.name)).toEqual(["web"]);
    expect(parsed.overridePolicies.map((p) => p.metadata.name)).toEqual(["images"]);
    const [pp] = parsed.propagationPolicies;
    expect(pp!.spec.resourceSelectors[0]!.namespace).toBe("shop");
    expect(pp!.spec.placement!.spreadConstraints).toEqual([
      { spreadByField: "cluster", maxGroups: 2, minGroups: 1 },
    ]);
    expect(pp!.spec.placement!.replicaScheduling).toEqual({
      replicaSchedulingType: "Divided",
      replicaDivisionPreference: "Weighted",
    });
  });

  it.each([
    ["  placement: {}", /spec\.resourceSelectors: Required value/],
    [
      "  resourceSelectors: [{ kind: Deployment }]",
      /spec\.resourceSelectors\[0\]\.apiVersion: Required value/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod, namespace: other }]",
      /spec\.resourceSelectors\[0\]\.namespace: Invalid value: "other"/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod }]\n  placement:\n    clusterAffinity: { clusterNames: [a] }\n    clusterAffinities: [{ affinityName: x }]",
      /spec\.placement: Invalid value: "clusterAffinity": clusterAffinities and clusterAffinity cannot be set together/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod }]\n  placement:\n    spreadConstraints: [{ spreadByField: region, minGroups: 3, maxGroups: 2 }]",
      /spec\.placement\.spreadConstraints\[0\]: Invalid value: .*maxGroups cannot be lower than minGroups.*spec\.placement\.spreadConstraints: Invalid value: .*needs a cluster spread constraint/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod }]\n  placement:\n    clusterTolerations: [{ key: a, operator: Gt, value: '1' }]",
      /spec\.placement\.clusterTolerations\[0\]\.operator: Unsupported value: "Gt"/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod }]\n  placement:\n    clusterAffinity:\n      fieldSelector:\n        matchExpressions: [{ key: colour, operator: In, values: [red] }]",
      /spec\.placement\.clusterAffinity\.fieldSelector: Invalid value: .*unsupported key "colour", must be provider, region, or zone/,
    ],
    [
      "  resourceSelectors: [{ apiVersion: v1, kind: Pod }]\n  placement:\n    replicaScheduling:\n      replicaSchedulingType: Divided\n      weightPreference: { staticWeightList: [{ targetCluster: { clusterNames: [a] }, weight: 0 }] }",
      /staticWeightList\[0\]\.weight: Invalid value: 0: must be a whole number of at least 1/,
    ],
  ])("names the field: %s", (spec, message) => {
    const problems = problemsOf(policy(spec));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^document 1 \(PropagationPolicy shop\/p\) is invalid: /);
    expect(problems[0]).toMatch(message);
  });

  it.each([
    [
      "nested complex keys",
      `${"{? ".repeat(360)}a${" : b}".repeat(360)}`,
      /nests collections more than 64 deep/,
    ],
    ["a complex key", "? [a]\n: b\n", /uses a list or a map as a key/],
    [
      "a billion laughs",
      `a: &a [x, x]\n${"bcdefghijk"
        .split("")
        .map((k, i) => `${k}: &${k} [*${"abcdefghijk"[i]}, *${"abcdefghijk"[i]}]`)
        .join("\n")}\nkind: [*k, *k]`,
      /aliases expand too far/,
    ],
  ])("refuses %s before expanding it, naming the limit", (_, text, message) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^the documents were not read: /);
    expect(problems[0]).toMatch(message);
  });

  it("reports every bad document at once, with its position", () => {
    const problems = problemsOf(
      "kind: Deployment\n---\n: bad yaml: [\n---\napiVersion: policy.karmada.io/v1alpha1\nkind: Nope\nmetadata: {name: n}\n",
    );
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/document 1 .*apiVersion, kind and metadata.name are required/);
    expect(problems[1]).toMatch(/document 2: not valid YAML/);
    expect(problems[2]).toMatch(/document 3 .*kind Nope is not supported/);
  });
});

describe("ClusterTaintPolicy and the failover fields", () => {
  const taintPolicy = (taints: string, extra = "") => `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterTaintPolicy
metadata: { name: failover }
spec:
  addOnConditions: [{ conditionType: Ready, operator: NotIn, statusValues: ["True"] }]
  removeOnConditions: [{ conditionType: Ready, operator: In, statusValues: ["True"] }]
  taints: ${taints}
  ${extra}
`;
  const problemsOf = (text: string, allow = false) => {
    try {
      parseDocuments(text, "default", { allowNoExecuteTaintPolicy: allow });
      return [];
    } catch (error) {
      return (error as DocumentsError).problems;
    }
  };

  it("accepts a policy as Karmada's webhook does, cluster-scoped", () => {
    const parsed = parseDocuments(taintPolicy("[{ key: unhealthy, effect: NoSchedule }]"));
    expect(parsed.clusterTaintPolicies.map((p) => [p.metadata.name, "namespace" in p.metadata])).toEqual([
      ["failover", false],
    ]);
  });

  it.each([
    [
      "a NoExecute taint unless the administrator allows it",
      "[{ key: down, effect: NoExecute }]",
      "",
      /spec\.taints\[0\]: Forbidden: a NoExecute taint can evict workloads/,
    ],
    [
      "two taints with the same key and effect",
      "[{ key: a, effect: NoSchedule }, { key: a, effect: NoSchedule }]",
      "",
      /spec\.taints\[0\]: Duplicate value/,
    ],
    [
      "an unknown effect",
      "[{ key: a, effect: Sometimes }]",
      "",
      /spec\.taints\[0\]\.effect: Unsupported value: "Sometimes"/,
    ],
    ["no taint at all", "[]", "", /spec\.taints: Required value/],
    [
      "a field selector key clusters do not have",
      "[{ key: a, effect: NoSchedule }]",
      "targetClusters: { fieldSelector: { matchExpressions: [{ key: color, operator: In, values: [x] }] } }",
      /spec\.targetClusters\.fieldSelector: Invalid value: .*unsupported key "color"/,
    ],
  ])("refuses %s", (_, taints, extra, message) => {
    const problems = problemsOf(taintPolicy(taints, extra));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it("accepts NoExecute where allowed", () => {
    expect(problemsOf(taintPolicy("[{ key: down, effect: NoExecute }]"), true)).toEqual([]);
  });

  it("refuses suspension with both fields, and an unknown purge mode", () => {
    const problems = problemsOf(`
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: { name: p, namespace: shop }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment }]
  suspension: { dispatching: true, dispatchingOnClusters: { clusterNames: [a] } }
  failover: { cluster: { purgeMode: Never } }
`);
    expect(problems[0]).toMatch(
      /spec\.suspension\.suspension: Invalid value: .*dispatching and dispatchingOnClusters\.clusterNames cannot be set together/,
    );
    expect(problems[0]).toMatch(/spec\.failover\.cluster\.purgeMode: Unsupported value: "Never"/);
  });
});

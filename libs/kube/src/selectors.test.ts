import { describe, expect, it } from "vitest";
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "./selectors.js";

describe("parseLabelSelector", () => {
  it.each([
    ["app=web", [{ key: "app", operator: "=", values: ["web"] }]],
    ["app==web", [{ key: "app", operator: "=", values: ["web"] }]],
    ["app!=web", [{ key: "app", operator: "!=", values: ["web"] }]],
    ["app in (a, b)", [{ key: "app", operator: "in", values: ["a", "b"] }]],
    ["tier notin (x)", [{ key: "tier", operator: "notin", values: ["x"] }]],
    ["app", [{ key: "app", operator: "exists", values: [] }]],
    ["!app", [{ key: "app", operator: "!", values: [] }]],
    ["replicas>2", [{ key: "replicas", operator: "gt", values: ["2"] }]],
    [
      "app.kubernetes.io/name=web,env in (prod,staging),!legacy",
      [
        { key: "app.kubernetes.io/name", operator: "=", values: ["web"] },
        { key: "env", operator: "in", values: ["prod", "staging"] },
        { key: "legacy", operator: "!", values: [] },
      ],
    ],
    ["", []],
  ])("%s", (selector, expected) => {
    expect(parseLabelSelector(selector)).toEqual(expected);
  });

  it.each(["app=we b", "app in a,b", "-bad=1", "x>y", "a=b=c"])(
    "rejects %s with a clear error",
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(SelectorError);
    },
  );
});

describe("matchesLabels", () => {
  const labels = { app: "web", tier: "frontend", replicas: "3" };
  it.each([
    ["app=web", true],
    ["app=api", false],
    ["app!=api", true],
    ["missing!=x", true],
    ["missing notin (x)", true],
    ["app notin (web)", false],
    ["app in (api,web)", true],
    ["missing in (x)", false],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["replicas>2", true],
    ["replicas<3", false],
    ["app=web,tier=frontend", true],
    ["app=web,tier=backend", false],
  ])("%s → %s", (selector, expected) => {
    expect(matchesLabels(labels, parseLabelSelector(selector))).toBe(expected);
  });
});

describe("field selectors", () => {
  const pod = {
    metadata: { name: "a", namespace: "prod" },
    status: { phase: "Running" },
    spec: { nodeName: "n1" },
  };
  it.each([
    ["metadata.name=a", true],
    ["metadata.name==b", false],
    ["metadata.namespace!=prod", false],
    ["status.phase=Running,spec.nodeName=n1", true],
    ["spec.missing=", true],
    ["spec.missing!=", false],
  ])("%s → %s", (selector, expected) => {
    expect(matchesFields(pod, parseFieldSelector(selector))).toBe(expected);
  });

  it("rejects a selector without an operator", () => {
    expect(() => parseFieldSelector("status.phase")).toThrow(SelectorError);
  });
});

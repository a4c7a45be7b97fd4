import { describe, expect, it } from "vitest";
import { describeTypes } from "./kube-api.js";

describe("the types kubectl discovers", () => {
  const widgets = {
    group: "example.com",
    scope: "Namespaced",
    names: { kind: "Widget", plural: "widgets", shortNames: ["wd"], categories: ["all"] },
    versions: [
      { name: "v1", served: true },
      { name: "v0", served: false },
    ],
  };

  it("describes indexed custom resources by their CRD and built-in ones by the catalog", () => {
    const types = describeTypes(
      [
        { group: "example.com", version: "v1", kind: "Widget", resource: "widgets", namespaced: true },
        { group: "apps", version: "v1", kind: "Deployment", resource: "deployments", namespaced: true },
        { group: "other.io", version: "v1", kind: "Thing", resource: "things", namespaced: false },
      ],
      [],
      [widgets],
    );
    expect(types.map((t) => [t.resource, t.shortNames, t.categories, t.namespaced])).toEqual([
      ["widgets", ["wd"], ["all"], true],
      ["deployments", ["deploy"], ["all"], true],
      ["things", [], [], false],
    ]);
  });

  it("adds what agents sync while the index has none of it, once per resource, and nothing unknown", () => {
    const types = describeTypes(
      [{ group: "", version: "v1", kind: "Pod", resource: "pods", namespaced: true }],
      [
        "v1/pods",
        "batch/v1/jobs@prod",
        "batch/v1/jobs@dev",
        "example.com/v1/widgets",
        "example.com/v0/widgets",
        "mystery.io/v1/things",
      ],
      [widgets],
    );
    expect(types.map((t) => `${t.group}/${t.version}/${t.resource}`)).toEqual([
      "/v1/pods",
      "batch/v1/jobs",
      "example.com/v1/widgets",
    ]);
  });
});

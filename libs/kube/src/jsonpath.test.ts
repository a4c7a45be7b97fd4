import { describe, expect, it } from "vitest";
import { customColumns, evaluateJsonPath, JsonPathError, parseJsonPath } from "./jsonpath.js";
import { toTable } from "./table.js";

const pod = {
  metadata: {
    name: "web-1",
    labels: { "app.kubernetes.io/name": "web" },
    creationTimestamp: "2026-01-01T00:00:00Z",
  },
  spec: { containers: [{ image: "nginx:1" }, { image: "envoy:2" }] },
};

describe("kubectl JSONPath subset", () => {
  it.each([
    [".metadata.name", ["web-1"]],
    ["{.metadata.name}", ["web-1"]],
    [".spec.containers[*].image", ["nginx:1", "envoy:2"]],
    [".spec.containers[1].image", ["envoy:2"]],
    [".metadata.labels.app\\.kubernetes\\.io/name", ["web"]],
    [".metadata.labels['app.kubernetes.io/name']", ["web"]],
    [".status.phase", []],
  ])("%s", (path, values) => {
    expect(evaluateJsonPath(pod, parseJsonPath(path))).toEqual(values);
  });

  it.each(["metadata.name", ".spec[?(@.x)]", ".a[", ".."])("rejects %s with a clear error", (path) => {
    expect(() => parseJsonPath(path)).toThrow(JsonPathError);
  });

  it("prints custom columns as kubectl does", () => {
    const text = customColumns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,PHASE:.status.phase", [
      pod,
    ]);
    expect(text.split("\n")).toEqual([
      "NAME    IMAGES            PHASE",
      "web-1   nginx:1,envoy:2   <none>",
      "",
    ]);
    expect(() => customColumns("name", [pod])).toThrow(/HEADER:.json.path/);
  });

  it("builds a custom resource's table from its printer columns", () => {
    const table = toTable(
      { kind: "Widget" },
      [{ ...pod, spec: { size: 3 } }],
      {},
      {
        printerColumns: [
          { name: "Size", type: "integer", jsonPath: ".spec.size" },
          { name: "Missing", type: "string", jsonPath: ".spec.colour", priority: 1 },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          { name: "Broken", type: "string", jsonPath: "not a path" },
        ],
        now: Date.parse("2026-01-03T00:00:00Z"),
      },
    );
    expect(table.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      "Name",
      "Size",
      "Missing",
      "Age",
      "Broken",
    ]);
    expect(table.rows[0].cells).toEqual(["web-1", 3, null, "2d", null]);
  });
});

import { describe, expect, it } from "vitest";
import { type BindingDecision, deleteBinding, getBindings, saveBindings } from "./placement.js";
import { suiteDatabase } from "./testing.js";

const decision = (name: string, clusters: string[], rejected: Record<string, string[]>): BindingDecision => ({
  binding: {
    namespace: "shop",
    name,
    apiVersion: "apps/v1",
    kind: "Deployment",
    templateName: name,
    uid: `uid-${name}`,
    policy: "ClusterPropagationPolicy/everywhere",
    clusters: clusters.map((c) => ({ name: c, replicas: 1 })),
    observedAffinity: "",
    rejected,
    condition: "Success",
    message: `placed on ${clusters.join(", ")}`,
    evictionTasks: [],
  },
  manifests: Object.fromEntries(clusters.map((c) => [c, [{ kind: "Deployment", metadata: { name } }]])),
});

describe("bindings saved in batches", () => {
  const handle = suiteDatabase("placement_store");
  const indexed = async () =>
    await handle.sql<
      { name: string; created: string; rejections: unknown; object: Record<string, unknown> }[]
    >`
      select name, created_at::text as created, object #> '{status,rejections}' as rejections, object
      from resources where cluster = 'atoll.hub' order by name`;

  it("writes each decision's works, withdraws what left, and mirrors every binding into the index once", async () => {
    const taint = "TaintToleration: cluster(s) had untolerated taint {edge=true:NoSchedule}";
    const first = await saveBindings(handle.sql, [
      decision("web", ["eu", "us"], { [taint]: ["edge-1", "edge-2"] }),
      decision("api", ["eu"], {}),
    ]);
    expect(first.map((works) => works.map((w) => `${w.cluster}:${w.action}`))).toEqual([
      ["eu:apply", "us:apply"],
      ["eu:apply"],
    ]);
    const before = await indexed();
    expect(before.map((r) => [r.name, r.rejections])).toEqual([
      ["api", []],
      ["web", [{ reason: taint, count: 2 }]],
    ]);
    // Again, with web leaving us and api unchanged: one delete work, no apply sent twice.
    const second = await saveBindings(handle.sql, [
      decision("api", ["eu"], {}),
      decision("web", ["eu"], {
        [taint]: ["edge-1", "edge-2"],
        "not selected under the spread constraints": ["us"],
      }),
    ]);
    expect(second.map((works) => works.map((w) => `${w.cluster}:${w.action}`))).toEqual([[], ["us:delete"]]);
    const [stored] = await getBindings(handle.sql, [{ namespace: "shop", name: "web" }]);
    expect(stored?.rejected).toEqual({
      [taint]: ["edge-1", "edge-2"],
      "not selected under the spread constraints": ["us"],
    });
    const after = await indexed();
    // Rescheduling keeps the indexed binding's creation time, in its row and in its object.
    expect(after.map((r) => r.created)).toEqual(before.map((r) => r.created));
    expect(after.map((r) => (r.object.metadata as { creationTimestamp: string }).creationTimestamp)).toEqual(
      before.map((r) => (r.object.metadata as { creationTimestamp: string }).creationTimestamp),
    );
    expect(after.find((r) => r.name === "web")?.object.metadata).toMatchObject({ generation: 2 });
    await deleteBinding(handle.sql, "shop", "api");
    expect((await indexed()).map((r) => r.name)).toEqual(["web"]);
  });

  it("refuses a batch that names one binding twice", async () => {
    await expect(
      saveBindings(handle.sql, [decision("twice", ["eu"], {}), decision("twice", ["us"], {})]),
    ).rejects.toThrow(/one binding twice/);
  });
});

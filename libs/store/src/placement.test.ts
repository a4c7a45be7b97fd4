import { describe, expect, it } from "vitest";
import {
  type BindingDecision,
  deleteBinding,
  deletePolicy,
  deleteTemplate,
  forgetSends,
  forgetUnusedClusterSets,
  getBindings,
  getTemplates,
  indexQueuedBindings,
  markTemplatesPlaced,
  recordWorkReports,
  recordWorkStatus,
  saveBindings,
  unplacedTemplates,
  unsentWorks,
  upsertPolicy,
  upsertTemplate,
  type WorkReport,
} from "./placement.js";
import { suiteDatabase } from "./testing.js";

const decision = (
  name: string,
  clusters: string[],
  rejected: BindingDecision["binding"]["rejected"],
): BindingDecision => ({
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
  // What search shows once the index has caught up with the bindings.
  const indexed = async () => {
    while ((await indexQueuedBindings(handle.sql, 2)) === 2);
    return await handle.sql<
      { name: string; created: string; rejections: unknown; object: Record<string, unknown> }[]
    >`
      select name, created_at::text as created, object #> '{status,rejections}' as rejections, object
      from resources where cluster = 'atoll.hub' order by name`;
  };

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

  it("stores a rendering shared by several clusters whole for each, and a changed one as changed", async () => {
    const shared = [
      {
        kind: "ConfigMap",
        metadata: { name: "quoted" },
        data: { 'say "hi"': "line\nbreak \u2028 \\ end", emoji: "🦀" },
      },
    ];
    const rendered = (list: Record<string, unknown>[]): BindingDecision => ({
      ...decision("shared", ["eu", "us", "ap"], {}),
      manifests: { eu: list, us: list, ap: [{ ...list[0], data: { only: "ap" } }] },
    });
    await saveBindings(handle.sql, [rendered(shared)]);
    const stored = async () =>
      Object.fromEntries(
        (
          await handle.sql<{ cluster: string; manifests: unknown }[]>`
            select cluster, manifests from works where binding_name = 'shared' order by cluster`
        ).map((row) => [row.cluster, row.manifests]),
      );
    expect(await stored()).toEqual({ ap: [{ ...shared[0], data: { only: "ap" } }], eu: shared, us: shared });
    // The same content in a new list is unchanged, and sends nothing again; new content is sent.
    expect(await saveBindings(handle.sql, [rendered(structuredClone(shared))])).toEqual([[]]);
    const changed = [{ ...shared[0]!, data: { moved: "on" } }];
    const works = await saveBindings(handle.sql, [rendered(changed)]);
    expect(works[0]!.map((work) => work.cluster).sort()).toEqual(["eu", "us"]);
    expect(await stored()).toMatchObject({ eu: changed, us: changed });
  });

  it("stores a long list of clusters once for every binding naming it, and reads each binding's own back", async () => {
    const fleet = Object.freeze(Array.from({ length: 40 }, (_, i) => `c-${String(i).padStart(2, "0")}`));
    const affinity = Object.freeze(Array.from({ length: 30 }, (_, i) => `edge-${i}`));
    const notSelected = "not selected under the spread constraints";
    const reason = "ClusterAffinity: cluster(s) did not match the placement cluster affinity constraint";
    await saveBindings(handle.sql, [
      decision("set-a", ["c-00", "c-07"], {
        [reason]: affinity,
        [notSelected]: { of: fleet, less: ["c-00", "c-07"] },
      }),
      decision("set-b", ["c-03"], { [reason]: affinity, [notSelected]: { of: fleet, less: ["c-03"] } }),
      // Fewer than a set's worth left: named in the binding.
      decision("set-c", fleet.slice(0, 35), { [notSelected]: { of: fleet, less: fleet.slice(0, 35) } }),
    ]);
    const sets = await handle.sql<{ size: number }[]>`select size from cluster_sets order by size`;
    expect(sets.map((s) => s.size)).toEqual([30, 40]);
    const [a, b, c] = await getBindings(
      handle.sql,
      ["set-a", "set-b", "set-c"].map((name) => ({ namespace: "shop", name })),
    );
    expect(a?.rejected[notSelected]).toEqual(fleet.filter((n) => n !== "c-00" && n !== "c-07"));
    expect(b?.rejected[notSelected]).toEqual(fleet.filter((n) => n !== "c-03"));
    expect(a?.rejected[reason]).toEqual(affinity);
    expect(c?.rejected).toEqual({ [notSelected]: fleet.slice(35) });
    const stored = await handle.sql<{ rejected: Record<string, unknown> }[]>`
      select rejected from bindings where name = 'set-c'`;
    expect(stored[0]?.rejected[notSelected]).toEqual(fleet.slice(35));
    // The index counts them without listing them.
    const counts = (await indexed()).find((r) => r.name === "set-a")?.rejections;
    expect(counts).toEqual([
      { reason, count: 30 },
      { reason: notSelected, count: 38 },
    ]);
    // Sets stay while a binding names them, and go once none does.
    expect(await forgetUnusedClusterSets(handle.sql)).toBe(0);
    await saveBindings(handle.sql, [decision("set-a", ["c-00"], {}), decision("set-b", ["c-00"], {})]);
    expect(await forgetUnusedClusterSets(handle.sql)).toBe(2);
    expect(await handle.sql`select id from cluster_sets`).toHaveLength(0);
  });

  it("waits for bindings being written before it forgets a set they name", async () => {
    const fleet = Array.from({ length: 20 }, (_, i) => `w-${i}`);
    // A set no committed binding names, as after its last binding was rescheduled.
    await handle.sql`insert into cluster_sets (id, clusters, size) values ('reused', ${JSON.stringify(fleet)}::jsonb, 20)`;
    const writer = await handle.sql.reserve();
    try {
      // A scheduler's transaction, as saveBindings runs it: it finds the set stored already, and
      // its binding naming the set is not committed yet when the sweep looks.
      await writer`begin`;
      await writer`select pg_advisory_xact_lock_shared(hashtext('atoll:cluster_sets'))`;
      await writer`insert into bindings (namespace, name, api_version, kind, template_name, uid, rejected)
        values ('shop', 'reusing', 'apps/v1', 'Deployment', 'reusing', 'u', '{"r": {"set": "reused"}}'::jsonb)`;
      const forgetting = forgetUnusedClusterSets(handle.sql);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writer`commit`;
      expect(await forgetting).toBe(0);
    } finally {
      writer.release();
    }
    const [binding] = await getBindings(handle.sql, [{ namespace: "shop", name: "reusing" }]);
    expect(binding?.rejected).toEqual({ r: fleet });
  });

  it("indexes a binding once per pass however often it was written in between, not once per write", async () => {
    await saveBindings(handle.sql, [decision("reported", ["eu", "us"], {})]);
    // Written, and queued: the index does not show it until a pass.
    expect((await indexed()).map((r) => r.name)).toContain("reported");
    const changes = async () =>
      (
        await handle.sql<{ n: number }[]>`
          select count(*)::int as n from resource_changes where cluster = 'atoll.hub' and name = 'reported'`
      )[0]?.n;
    const before = await changes();
    // A rollout's status reports: each wrote the index row (and its history) again.
    for (const [cluster, applied] of [
      ["eu", false],
      ["us", false],
      ["eu", true],
      ["us", true],
    ] as const)
      await recordWorkStatus(handle.sql, {
        cluster,
        namespace: "shop",
        name: "reported",
        generation: Number.MAX_SAFE_INTEGER,
        applied,
        manifests: [{ kind: "Deployment", healthy: true }],
      });
    const row = (await indexed()).find((r) => r.name === "reported");
    expect(await changes()).toBe(before! + 1);
    // The one pass shows the last of them.
    expect(
      (
        row!.object.status as { aggregatedStatus: { clusterName: string; applied: boolean }[] }
      ).aggregatedStatus.map((a) => [a.clusterName, a.applied]),
    ).toEqual([
      ["eu", true],
      ["us", true],
    ]);
  });

  it("records a batch of reports as it records them one at a time", async () => {
    // Two copies of the same bindings: one gets the reports one by one, the other in one batch.
    const copies = ["one-by-one", "batched"] as const;
    for (const copy of copies) {
      await saveBindings(handle.sql, [
        decision(`${copy}-a`, ["eu", "us"], {}),
        decision(`${copy}-b`, ["eu"], {}),
      ]);
      // b's work on eu is being withdrawn: its finished delete removes the work.
      await saveBindings(handle.sql, [decision(`${copy}-b`, [], {})]);
    }
    const generations = new Map(
      (
        await handle.sql<{ cluster: string; name: string; generation: number }[]>`
          select cluster, binding_name as name, generation::int from works where binding_namespace = 'shop'`
      ).map((w) => [`${w.name}/${w.cluster}`, w.generation]),
    );
    const reports = (copy: string): WorkReport[] => {
      const report = (binding: string, cluster: string, applied: boolean, older = false, healthy = true) => ({
        cluster,
        namespace: "shop",
        name: `${copy}-${binding}`,
        generation: generations.get(`${copy}-${binding}/${cluster}`)! - (older ? 1 : 0),
        applied,
        manifests: [{ kind: "Deployment", healthy }],
      });
      return [
        report("a", "eu", false),
        report("a", "us", true, false, false),
        report("a", "eu", true), // replaces the first
        report("a", "us", false, true), // older than the work: ignored
        report("b", "eu", true), // the delete finished
        report("b", "eu", false), // after it: no work left
      ];
    };
    const oneByOne = [];
    for (const report of reports("one-by-one")) oneByOne.push(await recordWorkStatus(handle.sql, report));
    const batched = await recordWorkReports(handle.sql, reports("batched"));
    expect(batched).toEqual(oneByOne);
    expect(batched).toEqual([true, true, true, false, true, false]);
    const state = async (copy: string) => ({
      works: (
        await handle.sql`
          select replace(binding_name, ${copy}, '') as name, cluster, applied, status, reported_generation > 0 as reported
          from works where binding_name like ${`${copy}-%`} order by 1, 2`
      ).map((row) => ({ ...row })),
      bindings: (
        await handle.sql<{ name: string; aggregated_status: Record<string, { generation: number }> }[]>`
          select replace(name, ${copy}, '') as name, aggregated_status from bindings where name like ${`${copy}-%`} order by 1`
      ).map((row) => ({
        ...row,
        aggregated_status: Object.fromEntries(
          Object.entries(row.aggregated_status).map(([cluster, view]) => [
            cluster,
            { ...view, generation: view.generation - generations.get(`${copy}${row.name}/${cluster}`)! },
          ]),
        ),
      })),
    });
    const expected = await state("one-by-one");
    expect(await state("batched")).toEqual(expected);
    expect(expected.bindings.map((b) => [b.name, Object.keys(b.aggregated_status)])).toEqual([
      ["-a", ["eu", "us"]],
      ["-b", []],
    ]);
  });

  it("indexes a binding written while a pass runs as it is once written, whichever takes its key first", async () => {
    await saveBindings(handle.sql, [decision("raced", ["eu"], {})]);
    await indexed();
    const shownOn = async () =>
      (
        (await indexed()).find((r) => r.name === "raced")?.object.spec as { clusters: { name: string }[] }
      )?.clusters.map((c) => c.name);
    const writer = await handle.sql.reserve();
    try {
      // The write first, to a binding queued already: its key stays locked until it commits,
      // and a pass meanwhile leaves it, rather than show the binding as it was before the write.
      await handle.sql`update bindings set message = 'queued' where namespace = 'shop' and name = 'raced'`;
      await writer`begin`;
      await writer`update bindings set clusters = '[{"name": "us", "replicas": 1}]'::jsonb where namespace = 'shop' and name = 'raced'`;
      expect(await indexQueuedBindings(handle.sql, 10)).toBe(0);
    } finally {
      await writer`commit`;
      writer.release();
    }
    expect(await shownOn()).toEqual(["us"]);
    const pass = await handle.sql.reserve();
    try {
      // The pass first: it has taken the key and read the binding as it was when the write
      // comes, which waits for it and queues the key again.
      await handle.sql`update bindings set clusters = '[{"name": "ap", "replicas": 1}]'::jsonb where namespace = 'shop' and name = 'raced'`;
      await pass`begin`;
      expect((await pass`select atoll_index_queued_bindings(10) as taken`)[0]?.taken).toBe(1);
      const writing = handle.sql`update bindings set clusters = '[{"name": "eu", "replicas": 1}]'::jsonb where namespace = 'shop' and name = 'raced'`;
      await new Promise((resolve) => setTimeout(resolve, 300));
      await pass`commit`;
      await writing;
    } finally {
      pass.release();
    }
    expect(await shownOn()).toEqual(["eu"]);
  });

  it("does not take a key whose write commits while the pass runs, and index the binding as it was before", async () => {
    await saveBindings(handle.sql, [decision("late", ["eu"], {})]);
    await indexed();
    // A long queue ahead of the binding's key: the pass takes its snapshot, then works through
    // these before it comes to the key, which a write has locked and commits meanwhile.
    await handle.sql`insert into binding_index_queue (namespace, name, queued_at)
      select 'filler', 'f-' || i, now() - interval '1 hour' from generate_series(1, 20000) i`;
    await handle.sql`update bindings set message = 'queued' where namespace = 'shop' and name = 'late'`;
    const writer = await handle.sql.reserve();
    try {
      await writer`begin`;
      await writer`update bindings set message = 'written while the pass ran' where namespace = 'shop' and name = 'late'`;
      const pass = indexQueuedBindings(handle.sql, 100_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writer`commit`;
      await pass;
    } finally {
      writer.release();
    }
    const row = (await indexed()).find((r) => r.name === "late");
    expect((row!.object.status as { conditions: { message: string }[] }).conditions[0]?.message).toBe(
      "written while the pass ran",
    );
  });

  it("keeps one outbox entry per write until its works are on the bus, and the relay finds the rest", async () => {
    const sends = async () =>
      (await handle.sql<{ n: number }[]>`select count(*)::int as n from work_sends`)[0]!.n;
    await handle.sql`delete from work_sends`;
    const [placed, other] = await saveBindings(handle.sql, [
      decision("outbox", ["eu", "us"], {}),
      decision("outbox-2", ["eu"], {}),
    ]);
    // One entry for the whole write, named by each of its works.
    expect(new Set([...placed!, ...other!].map((w) => w.send)).size).toBe(1);
    expect(await sends()).toBe(1);
    // Unchanged: nothing to send, no entry.
    await saveBindings(handle.sql, [decision("outbox", ["eu", "us"], {})]);
    expect(await sends()).toBe(1);
    // Not published yet: the relay finds every work of the entry, as it stands now.
    const left = await unsentWorks(handle.sql, 10, 0);
    expect(left.map((w) => `${w.name}:${w.cluster}:${w.generation}`).sort()).toEqual(
      [
        ...placed!.map((w) => `outbox:${w.cluster}:${w.generation}`),
        `outbox-2:eu:${other![0]!.generation}`,
      ].sort(),
    );
    expect(await unsentWorks(handle.sql, 10, 60)).toEqual([]);
    await forgetSends(handle.sql, [placed![0]!.send!]);
    expect(await sends()).toBe(0);
    // A deletion's works are sent through the outbox too; once they are gone, so is its entry.
    const withdrawn = await deleteBinding(handle.sql, "shop", "outbox-2");
    expect(withdrawn.map((w) => `${w.cluster}:${w.action}:${w.send !== undefined}`)).toEqual([
      "eu:delete:true",
    ]);
    await handle.sql`delete from works where binding_name = 'outbox-2'`;
    expect(await unsentWorks(handle.sql, 10, 0)).toEqual([]);
    expect(await sends()).toBe(0);
  });

  it("refuses a batch that names one binding twice", async () => {
    await expect(
      saveBindings(handle.sql, [decision("twice", ["eu"], {}), decision("twice", ["us"], {})]),
    ).rejects.toThrow(/one binding twice/);
  });
});

describe("placements owed to templates", () => {
  const handle = suiteDatabase("placement_owed");
  const fleet = { appliedBy: "", clusters: ["*"] };
  const key = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name });
  const owed = async () =>
    (await unplacedTemplates(handle.sql, 100, 0))
      .map((t) => `${t.name}${t.deleted ? " (deleted)" : ""}`)
      .sort();
  const placeAsRead = async (...names: string[]) =>
    markTemplatesPlaced(handle.sql, await getTemplates(handle.sql, names.map(key)));

  it("owes a placement from every change until the scheduler places from it, and not from an older read", async () => {
    await upsertTemplate(handle.sql, key("a"), { data: { v: "1" } }, fleet);
    await upsertTemplate(handle.sql, key("b"), { data: { v: "1" } }, fleet);
    expect(await owed()).toEqual(["a", "b"]);
    await placeAsRead("a", "b");
    expect(await owed()).toEqual([]);
    // Unchanged: nothing owed. Changed after the scheduler read it: the read does not pay it.
    await upsertTemplate(handle.sql, key("a"), { data: { v: "1" } }, fleet);
    expect(await owed()).toEqual([]);
    const [readBefore] = await getTemplates(handle.sql, [key("b")]);
    await upsertTemplate(handle.sql, key("b"), { data: { v: "2" } }, fleet);
    await markTemplatesPlaced(handle.sql, [readBefore!]);
    expect(await owed()).toEqual(["b"]);
    await placeAsRead("b");
    // Within the settle time a request is still on its way, not lost.
    await upsertTemplate(handle.sql, key("a"), { data: { v: "3" } }, fleet);
    expect(await unplacedTemplates(handle.sql, 100, 60)).toEqual([]);
    await placeAsRead("a");
  });

  it("records the policy that claims a template with its placement, even one changed since it was read", async () => {
    const claimedBy = async (name: string) => (await getTemplates(handle.sql, [key(name)]))[0]?.claimedBy;
    await upsertTemplate(handle.sql, key("claimed"), { data: { v: "1" } }, fleet);
    const [read] = await getTemplates(handle.sql, [key("claimed")]);
    await markTemplatesPlaced(handle.sql, [{ ...read!, claim: "ClusterPropagationPolicy/all" }]);
    expect(await claimedBy("claimed")).toBe("ClusterPropagationPolicy/all");
    expect(await owed()).not.toContain("claimed");
    // Changed after the read: the claim holds, the newer request stays owed.
    const [stale] = await getTemplates(handle.sql, [key("claimed")]);
    await upsertTemplate(handle.sql, key("claimed"), { data: { v: "2" } }, fleet);
    await markTemplatesPlaced(handle.sql, [{ ...stale!, claim: "" }]);
    expect(await claimedBy("claimed")).toBe("");
    expect(await owed()).toContain("claimed");
    // Claimed again, then placed with no change of claim: the claim stays.
    await markTemplatesPlaced(handle.sql, [{ ...stale!, claim: "ClusterPropagationPolicy/all" }]);
    await placeAsRead("claimed");
    expect(await claimedBy("claimed")).toBe("ClusterPropagationPolicy/all");
    expect(await owed()).not.toContain("claimed");
    await deleteTemplate(handle.sql, key("claimed"));
  });

  it("owes every template a placement from a propagation policy's change, in the same statement, but not a taint policy's", async () => {
    await placeAsRead("a", "b");
    const policy = { kind: "ClusterPropagationPolicy", namespace: "", name: "all", authority: fleet };
    await upsertPolicy(handle.sql, { ...policy, document: { spec: {} } });
    expect(await owed()).toEqual(["a", "b"]);
    await placeAsRead("a", "b");
    const taint = { kind: "ClusterTaintPolicy", namespace: "", name: "edge", authority: fleet };
    await upsertPolicy(handle.sql, { ...taint, document: { spec: {} } }, { requestsPlacement: false });
    await deletePolicy(handle.sql, taint, { requestsPlacement: false });
    expect(await owed()).toEqual([]);
    expect(await deletePolicy(handle.sql, policy)).toBe(true);
    expect(await owed()).toEqual(["a", "b"]);
    expect(await deletePolicy(handle.sql, policy)).toBe(false);
    await placeAsRead("a", "b");
  });

  it("owes a deleted template's binding its withdrawal until the binding is gone", async () => {
    await saveBindings(handle.sql, [
      {
        ...decision("a", ["eu"], {}),
        binding: { ...decision("a", ["eu"], {}).binding, apiVersion: "v1", kind: "ConfigMap" },
      },
    ]);
    expect(await owed()).toEqual([]);
    await deleteTemplate(handle.sql, key("a"));
    expect(await owed()).toEqual(["a (deleted)"]);
    await deleteBinding(handle.sql, "shop", "a");
    expect(await owed()).toEqual([]);
  });
});

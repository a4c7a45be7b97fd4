import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "@atoll/devkit";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHub } from "../support/hub.js";

// biome-ignore lint/suspicious/noExplicitAny: API answers are loose JSON
type Any = any;

/** A custom rule from the configuration file: images must come from the company registry. */
const configDir = mkdtempSync(join(tmpdir(), "atoll-insight-e2e-"));
const insightConfig = join(configDir, "insight.yaml");
writeFileSync(
  insightConfig,
  `customRules:
  approvedRegistry:
    target: Container
    severity: high
    description: Images come from registry.example
    schema: { properties: { image: { pattern: "^registry\\\\.example/" } } }
`,
);

describe("issues found by the indexer on every change", () => {
  const hub = new TestHub({ env: { ATOLL_INSIGHT_CONFIG: insightConfig } });
  const sim = new KubeSim({ name: "ailing", token: "t" });

  beforeAll(async () => {
    await sim.start();
    generateCluster(sim, {
      seed: 404,
      namespaces: ["default", "shop"],
      deploymentsPerNamespace: 2,
      failures: { CrashLoopBackOff: 2, ImagePullBackOff: 1, Unschedulable: 1 },
    });
    await hub.start();
    hub.startAgent(sim);
    await hub.waitIndexed(sim);
  }, 60_000);
  afterAll(async () => {
    await hub.stop();
    await sim.stop();
    rmSync(configDir, { recursive: true, force: true });
  });

  const broken = (reason: string) =>
    sim.store
      .list(sim.store.findType("", "v1", "pods")!)
      .map(({ object }) => object)
      .filter((p: Any) => JSON.stringify(p.status).includes(reason));
  const open = async (rule: string) =>
    ((await hub.get(`/api/v1/issues?cluster=ailing&rule=${rule}`)).items as Any[]).map((i) => i.name).sort();

  it("opens runtime issues for broken pods and audit issues for risky specs", async () => {
    const crashing = broken("CrashLoopBackOff")
      .map((p: Any) => p.metadata.name)
      .sort();
    expect(crashing).toHaveLength(2);
    await until(
      async () => JSON.stringify(await open("ContainerCrashLooping")) === JSON.stringify(crashing),
      "crash loop issues",
    );
    expect(await open("ContainerImagePullFailed")).toEqual(
      broken("ImagePullBackOff").map((p: Any) => p.metadata.name),
    );
    expect(await open("PodUnschedulable")).toHaveLength(1);
    // Audit rules judge specs: the generated pods set no readiness probes, for example.
    const audit = (await hub.get("/api/v1/issues?cluster=ailing&severity=medium&kind=Deployment"))
      .items as Any[];
    expect(audit.some((i) => i.category !== "Runtime")).toBe(true);
    const issue = (await hub.get(`/api/v1/issues?cluster=ailing&rule=ContainerCrashLooping`)).items[0];
    expect(issue.message).toMatch(/the last termination reason is Error \(exit code 1\) container=main/);
  });

  it("answers atoll search from the command line, in plain language too", async () => {
    const crashing = broken("CrashLoopBackOff").map(
      (p: Any) => `ailing/Pod/${p.metadata.namespace}/${p.metadata.name}`,
    );
    const listed = await hub.cli(["search", "kind:Pod status:CrashLoopBackOff", "-o", "name"]);
    expect(listed.trim().split("\n").sort()).toEqual(crashing.sort());

    const failing = [...broken("CrashLoopBackOff"), ...broken("ImagePullBackOff")].map(
      (p: Any) => p.metadata.name,
    );
    const answer = await hub.cli(["search", "--mode", "nl", "pods in error state"]);
    const [readAs, header, ...rows] = answer.trim().split("\n");
    expect(readAs).toMatch(
      /^# read as: SELECT \* FROM resources WHERE kind = 'Pod' AND status IN \('Failed', /,
    );
    expect(header).toMatch(/^CLUSTER\s+KIND\s+NAMESPACE\s+NAME\s+AGE$/);
    expect(rows.map((r) => r.split(/\s+/)[3]).sort()).toEqual(failing.sort());

    const pods = sim.store.list(sim.store.findType("", "v1", "pods")!).length;
    const counted = await hub.cli([
      "search",
      "SELECT kind, COUNT(*) FROM resources WHERE cluster = 'ailing' GROUP BY kind",
    ]);
    expect(counted.split("\n")[0]).toMatch(/^KIND\s+COUNT$/);
    expect(counted).toMatch(new RegExp(`^Pod\\s+${pods}$`, "m"));
  });

  it("runs the configuration's custom rules on every change, and resolves them when fixed", async () => {
    const deployments = sim.store
      .list(sim.store.findType("apps", "v1", "deployments")!)
      .map(({ object }) => object as Any);
    const flagged = async () =>
      ((await hub.get("/api/v1/issues?cluster=ailing&rule=approvedRegistry&kind=Deployment")).items as Any[])
        .map((i) => `${i.namespace}/${i.name}:${i.severity}`)
        .sort();
    expect(await flagged()).toEqual(
      deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}:high`).sort(),
    );
    const [first] = deployments;
    sim.apply({
      ...first,
      spec: {
        ...first.spec,
        template: {
          ...first.spec.template,
          spec: {
            ...first.spec.template.spec,
            containers: first.spec.template.spec.containers.map((c: Any) => ({
              ...c,
              image: "registry.example/web:2",
            })),
          },
        },
      },
    });
    await until(
      async () =>
        !(await flagged()).some((f) => f.startsWith(`${first.metadata.namespace}/${first.metadata.name}:`)),
      "the fixed deployment's custom-rule issue to resolve",
    );
  });

  it("resolves an issue when the object recovers, and keeps when it first and last saw it", async () => {
    const pod = broken("CrashLoopBackOff")[0] as Any;
    sim.apply({
      ...pod,
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [
          {
            name: "main",
            ready: true,
            restartCount: 3,
            state: { running: { startedAt: new Date().toISOString() } },
          },
        ],
      },
    });
    await until(
      async () => !(await open("ContainerCrashLooping")).includes(pod.metadata.name),
      "the issue to resolve",
    );
    const resolved = (
      await hub.get(`/api/v1/issues?cluster=ailing&rule=ContainerCrashLooping&state=resolved`)
    ).items as Any[];
    const mine = resolved.find((i) => i.name === pod.metadata.name);
    expect(mine.resolvedAt).toBeTruthy();
    expect(Date.parse(mine.firstSeen)).toBeLessThanOrEqual(Date.parse(mine.lastSeen));
    for (const time of [mine.firstSeen, mine.lastSeen, mine.resolvedAt])
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const health = (await hub.get("/api/v1/health?by=namespace")).items as Any[];
    expect(health.every((h) => h.score > 0 && h.score <= 100)).toBe(true);
    expect(health.some((h) => h.objectsWithIssues > 0 && h.score < 100)).toBe(true);
  });

  it("runs the rules that read other objects after the objects they read change", async () => {
    sim.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "orphan", namespace: "shop" },
      spec: { selector: { app: "nobody" }, ports: [{ port: 80 }] },
    });
    await until(
      async () => (await open("ServiceSelectsNoPods")).includes("orphan"),
      "the orphan service's issue",
      20_000,
    );
    // A pod with that label arrives: the Service now selects it, and the issue resolves.
    sim.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "somebody", namespace: "shop", labels: { app: "nobody" } },
      spec: { containers: [{ name: "main", image: "web:1" }] },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    });
    await until(
      async () => !(await open("ServiceSelectsNoPods")).includes("orphan"),
      "the issue to resolve",
      20_000,
    );
  });
});

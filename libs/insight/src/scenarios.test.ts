import {
  type ClusterFault,
  type GenerateOptions,
  generateCluster,
  KubeSim,
  type PodFailure,
} from "@atoll/kube-sim";
import { describe, expect, it } from "vitest";
import { CROSS_OBJECT_KINDS, clusterIssues, objectIssues } from "./diagnosis.js";
import { DIAGNOSIS_GUIDE } from "./diagnosis-guide.js";
import type { Obj } from "./objects.js";

/** The finding each kind of breakage must raise, on the object it broke. */
const RULE_OF_FAILURE: Record<PodFailure, string> = {
  CrashLoopBackOff: "ContainerCrashLooping",
  ImagePullBackOff: "ContainerImagePullFailed",
  Unschedulable: "PodUnschedulable",
  OOMKilled: "ContainerOOMKilled",
  Evicted: "PodEvicted",
  CreateContainerConfigError: "ContainerConfigError",
  FailedMount: "PodFailedMount",
  ProbeFailure: "ProbeFailing",
};
const RULE_OF_FAULT: Record<ClusterFault, string> = {
  FailedJob: "JobFailed",
  NotReadyNode: "NodeNotReady",
  PendingVolumeClaim: "PVCProvisioningFailed",
  ServiceWithoutPods: "ServiceSelectsNoPods",
  IngressToMissingService: "IngressServiceMissing",
  MissingConfigMap: "ConfigMapMissing",
  SuspendedCronJob: "CronJobSuspended",
  HPAWithoutTarget: "HPATargetMissing",
};

const key = (rule: string, o: { kind: string; namespace?: string; name: string }) =>
  `${rule} ${o.kind}/${o.namespace ?? ""}/${o.name}`;

/**
 * Runtime findings as the indexer records them: the single-object rules on every object, and the
 * cross-object pass over the kinds it loads.
 */
function runtimeFindings(sim: KubeSim): string[] {
  const all = sim.store.types().flatMap((t) => sim.store.list(t).map(({ object }) => object as Obj));
  const found = new Set<string>();
  const record = (object: Obj, issues: { rule: string; category: string }[]) => {
    for (const issue of issues)
      if (issue.category === "Runtime")
        found.add(
          key(issue.rule, {
            kind: object.kind,
            namespace: object.metadata.namespace,
            name: object.metadata.name,
          }),
        );
  };
  for (const object of all) record(object, objectIssues(object));
  const loaded = all.filter((o) => CROSS_OBJECT_KINDS.includes(o.kind));
  const cross = clusterIssues(
    loaded.filter((o) => o.kind !== "Event"),
    loaded.filter((o) => o.kind === "Event"),
  );
  for (const { object, issues } of cross.values()) record(object, issues);
  return [...found].sort();
}

/**
 * What a generated cluster must show: each broken pod's finding, its Deployment not ready, and a
 * Service whose every pod is broken serving only unready pods; each fault's finding on its object.
 */
function expectedFindings(sim: KubeSim, generated: ReturnType<typeof generateCluster>): string[] {
  const pods = sim.store.list(sim.store.findType("", "v1", "pods")!).map(({ object }) => object);
  const broken = new Set(generated.failedPods.map((p) => `${p.namespace}/${p.name}`));
  const expected = new Set<string>();
  for (const failed of generated.failedPods) {
    expected.add(key(RULE_OF_FAILURE[failed.failure], { kind: "Pod", ...failed }));
    const pod = pods.find(
      (p) => p.metadata.namespace === failed.namespace && p.metadata.name === failed.name,
    )!;
    expected.add(
      key("DeploymentNotReady", {
        kind: "Deployment",
        namespace: failed.namespace,
        name: pod.metadata.labels.app,
      }),
    );
  }
  for (const deployment of generated.deployments) {
    const own = pods.filter(
      (p) => p.metadata.namespace === deployment.namespace && p.metadata.labels.app === deployment.name,
    );
    if (own.length > 0 && own.every((p) => broken.has(`${p.metadata.namespace}/${p.metadata.name}`)))
      expected.add(key("ServiceOnlyUnreadyPods", { kind: "Service", ...deployment }));
  }
  for (const fault of generated.faults) expected.add(key(RULE_OF_FAULT[fault.fault], fault));
  return [...expected].sort();
}

const scenarios: [string, Partial<GenerateOptions>][] = [
  ["a healthy cluster", {}],
  ...(Object.keys(RULE_OF_FAILURE) as PodFailure[]).map((failure): [string, Partial<GenerateOptions>] => [
    `pods: ${failure}`,
    { failures: { [failure]: 2 } },
  ]),
  ...(Object.keys(RULE_OF_FAULT) as ClusterFault[]).map((fault): [string, Partial<GenerateOptions>] => [
    `objects: ${fault}`,
    { faults: { [fault]: 1 } },
  ]),
  [
    "everything at once",
    {
      failures: Object.fromEntries(Object.keys(RULE_OF_FAILURE).map((f) => [f, 1])),
      faults: Object.fromEntries(Object.keys(RULE_OF_FAULT).map((f) => [f, 2])),
    },
  ],
];

describe("runtime rules on the sim's failure scenarios", () => {
  it.each(scenarios)("%s yields exactly the expected findings", (_name, options) => {
    const sim = new KubeSim({ name: "scenario" });
    const generated = generateCluster(sim, {
      seed: 17,
      namespaces: ["default", "shop", "billing"],
      deploymentsPerNamespace: 3,
      ...options,
    });
    const expected = expectedFindings(sim, generated);
    if (options.failures || options.faults) expect(expected.length).toBeGreaterThan(0);
    expect(runtimeFindings(sim)).toEqual(expected);
  });
});

describe("the guide to runtime findings", () => {
  it("says why and how to fix every finding the scenarios raise", () => {
    const sim = new KubeSim({ name: "guide" });
    generateCluster(sim, {
      seed: 5,
      namespaces: ["default", "shop"],
      deploymentsPerNamespace: 3,
      ...scenarios.at(-1)![1],
    });
    const rules = new Set(runtimeFindings(sim).map((finding) => finding.split(" ")[0]!));
    expect(rules.size).toBeGreaterThan(10);
    expect([...rules].filter((rule) => !DIAGNOSIS_GUIDE[rule])).toEqual([]);
    for (const { why, fix } of Object.values(DIAGNOSIS_GUIDE)) {
      expect(why.length).toBeGreaterThan(20);
      expect(fix.length).toBeGreaterThan(20);
    }
  });
});

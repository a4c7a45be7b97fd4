import { type GenerateOptions, generateCluster, KubeSim } from "@atoll/kube-sim";

/**
 * The fleet the language evaluation asks about: three kube-sim clusters of different shapes, with
 * the trouble SREs ask after (crash loops, image pulls, OOM kills, evictions, unschedulable pods,
 * a node gone quiet, a failed job). Each cluster lists a different namespace first, so its broken
 * pods and objects land in a namespace of their own.
 */
export const FLEET: { name: string; options: GenerateOptions }[] = [
  {
    name: "prod-east",
    options: {
      seed: 11,
      namespaces: ["payments", "default", "kube-system", "checkout", "search"],
      nodes: 4,
      deploymentsPerNamespace: 4,
      maxReplicas: 3,
      failures: { CrashLoopBackOff: 2, ImagePullBackOff: 1, OOMKilled: 1, Unschedulable: 1 },
      faults: { FailedJob: 1, NotReadyNode: 1, PendingVolumeClaim: 1 },
    },
  },
  {
    name: "prod-west",
    options: {
      seed: 12,
      namespaces: ["checkout", "default", "kube-system", "payments", "growth"],
      nodes: 3,
      deploymentsPerNamespace: 4,
      maxReplicas: 3,
      failures: { CrashLoopBackOff: 1, Evicted: 1, CreateContainerConfigError: 1, OOMKilled: 1 },
      faults: { SuspendedCronJob: 1, HPAWithoutTarget: 1, ServiceWithoutPods: 1 },
    },
  },
  {
    name: "edge-1",
    options: {
      seed: 13,
      namespaces: ["growth", "default", "kube-system", "search"],
      nodes: 2,
      deploymentsPerNamespace: 3,
      maxReplicas: 2,
      failures: { ImagePullBackOff: 2, ProbeFailure: 1, FailedMount: 1 },
      faults: { MissingConfigMap: 1, IngressToMissingService: 1 },
    },
  },
];

/** One sim per cluster of the fleet, filled; start() them to serve kubectl and agents. */
export function fleetSims(): KubeSim[] {
  return FLEET.map(({ name, options }, i) => {
    const sim = new KubeSim({ name, token: `eval-${i}` });
    generateCluster(sim, options);
    return sim;
  });
}

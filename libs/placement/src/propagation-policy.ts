import type { ResourceSelector } from "./election.js";
import type { Placement } from "./types.js";

/** A Karmada (Cluster)PropagationPolicy as Atoll reads it: which templates go where. */
export const POLICY_API_VERSION = "policy.karmada.io/v1alpha1";

export interface PropagationPolicyDoc {
  apiVersion: typeof POLICY_API_VERSION;
  kind: "PropagationPolicy" | "ClusterPropagationPolicy";
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    resourceSelectors: ResourceSelector[];
    placement?: Placement;
    priority?: number;
    preemption?: "Always" | "Never";
    propagateDeps?: boolean;
    conflictResolution?: "Abort" | "Overwrite";
    suspension?: { dispatching?: boolean; dispatchingOnClusters?: { clusterNames?: string[] } };
    preserveResourcesOnDeletion?: boolean;
    failover?: { cluster?: { purgeMode?: "Gracefully" | "Directly" } };
  };
}

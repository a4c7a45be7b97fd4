/** The parts of Karmada's placement API the scheduler reads (policy.karmada.io/v1alpha1). */

import type { LabelSelector, LabelSelectorRequirement } from "@atoll/kube";

export type { LabelSelector, LabelSelectorRequirement };

export interface ClusterAffinity {
  labelSelector?: LabelSelector;
  fieldSelector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  clusterNames?: string[];
  exclude?: string[];
}

export interface ClusterAffinityTerm extends ClusterAffinity {
  affinityName: string;
  overflowAffinities?: (ClusterAffinity & { affinityName: string })[];
}

export interface Toleration {
  key?: string;
  operator?: "Equal" | "Exists" | "";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | "";
  tolerationSeconds?: number | null;
}

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  timeAdded?: string | null;
}

export interface SpreadConstraint {
  spreadByField?: "cluster" | "region" | "zone" | "provider";
  spreadByLabel?: string;
  maxGroups?: number;
  minGroups?: number;
}

export interface StaticWeight {
  targetCluster: ClusterAffinity;
  weight: number;
}

export interface ReplicaScheduling {
  replicaSchedulingType?: string;
  replicaDivisionPreference?: string;
  weightPreference?: { staticWeightList?: StaticWeight[]; dynamicWeight?: string };
}

export interface Placement {
  clusterAffinity?: ClusterAffinity;
  clusterAffinities?: ClusterAffinityTerm[];
  clusterTolerations?: Toleration[];
  spreadConstraints?: SpreadConstraint[];
  replicaScheduling?: ReplicaScheduling;
}

/** A member cluster as placement sees it: identity, topology, taints. */
export interface ClusterInfo {
  name: string;
  labels?: Record<string, string>;
  provider?: string;
  region?: string;
  zones?: string[];
  taints?: Taint[];
}

/** A cluster that passed the filters, with what the scheduler knows of it. */
export interface Candidate {
  name: string;
  score: number;
  /** Free replicas by estimate plus the replicas already assigned to it. */
  availableReplicas: number;
  /** Free replicas by estimate only. */
  allocatableReplicas: number;
  /** 0 for the observed affinity term, k for its k-th overflow tier. */
  overflowOrder: number;
  provider?: string;
  region?: string;
  zones?: string[];
}

export class PlacementError extends Error {
  constructor(
    readonly code: "NO_CLUSTERS" | "UNSCHEDULABLE" | "UNSUPPORTED" | "SPREAD",
    message: string,
    /** NO_CLUSTERS: the clusters rejected by the policy or their own properties, not by state. */
    readonly policyRejected?: string[],
  ) {
    super(message);
  }
}

/**
 * Why clusters were not chosen: each reason with the clusters it rejected, in fleet order. A
 * binding over thousands of clusters repeats a handful of reasons, and is stored, indexed and
 * revised with each scheduling; keyed by cluster it would carry thousands of copies of them.
 */
export type Rejections = Record<string, string[]>;

/**
 * Clusters named by a list that many bindings share, less the few one binding took. A binding's
 * "not selected" is most of the fleet: the feasible clusters of its batch less those it chose.
 */
export interface ClustersLess {
  of: readonly string[];
  less: readonly string[];
}

/**
 * Rejections as scheduling makes them, before anyone lists them: each reason's clusters by name,
 * or as a shared list less some. Lists a tally shares between bindings are frozen.
 */
export type ScheduledRejections = Record<string, readonly string[] | ClustersLess>;

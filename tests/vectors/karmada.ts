import {
  addByWeights,
  affinityFilter,
  allocateWebsterSeats,
  assignReplicas,
  type Candidate,
  clusterMatches,
  divideByAvailable,
  divideByWeights,
  duplicated,
  dynamicScale,
  electPolicy,
  groupScore,
  imageOverridePatches,
  imageString,
  matchingTolerations,
  minTolerationTime,
  orderCandidates,
  overflowOrder,
  parseImage,
  removeTagOrDigest,
  resourceSelectorPriority,
  type Seats,
  selectClusters,
  selectFromGroups,
  selectGroups,
  setTagOrDigest,
  splitHostname,
  staticWeight,
  taintFilter,
} from "@atoll/placement";
import { type Handler, same } from "./runner.js";

// biome-ignore lint/suspicious/noExplicitAny: vectors are loose JSON
type Any = any;

/** An assignment equals the expected one; zero-replica entries may be left out of either. */
function sameAssignment(actual: Seats | undefined, expected: Seats | null | undefined): string | undefined {
  const strip = (s: Seats | null | undefined) =>
    Object.fromEntries(
      Object.entries(s ?? {})
        .filter(([, n]) => n !== 0)
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  return same(strip(actual), strip(expected));
}

/** Runs a function that may throw; an expected error passes on any error of the same kind. */
function expectingError(expected: Any, run: () => string | undefined): string | undefined {
  try {
    const failure = run();
    return expected.error ? `expected an error (${JSON.stringify(expected.error)}), got a result` : failure;
  } catch (error) {
    if (!expected.error) return `unexpected error: ${(error as Error).message}`;
    if (typeof expected.error === "string" && !(error as Error).message.includes(expected.error))
      return `error "${(error as Error).message}" does not say "${expected.error}"`;
    return undefined;
  }
}

const PRIORITY_NAMES = [
  "PriorityMisMatch(0)",
  "PriorityMatchAll(1)",
  "PriorityMatchLabelSelector(2)",
  "PriorityMatchName(3)",
];

const tieBreakerOf = (text: string) =>
  text.includes("a.Name > b.Name")
    ? (a: { name: string }, b: { name: string }) => a.name > b.name
    : text.includes("a.Name < b.Name")
      ? (a: { name: string }, b: { name: string }) => a.name < b.name
      : undefined;

const candidate = (c: Any, fallback: Partial<Candidate> = {}): Candidate => ({
  name: c.name,
  score: c.score ?? 0,
  availableReplicas: c.availableReplicas ?? c.allocatableReplicas ?? fallback.availableReplicas ?? 0,
  allocatableReplicas: c.allocatableReplicas ?? c.availableReplicas ?? 0,
  overflowOrder: c.overflowOrder ?? 0,
  ...(c.provider ? { provider: c.provider } : {}),
  ...(c.region ? { region: c.region } : {}),
  ...(c.zones ? { zones: c.zones } : {}),
});

const strategyFlags = (strategy: string) => ({
  duplicated: strategy === "Duplicated",
  aggregated: strategy === "Aggregated",
});

const formatTolerationTime = (ms: number) =>
  ms < 0 ? "-1 (tolerate forever)" : ms === 0 ? "0 (evict now)" : `${ms / 1000}s`;

/** Handlers for the peers' Karmada vectors (tests/vectors/peer/karmada-placement.json), by group. */
export const KARMADA: Record<string, Handler> = {
  static: (i, e) =>
    sameAssignment(
      staticWeight(
        i.candidateClusters.map((name: string) => ({ name })),
        i.replicaScheduling.weightPreference?.staticWeightList,
        i.desiredReplicas,
        i.bindingUID,
      ),
      e.assignment,
    ),
  dispenser: (i, e) =>
    sameAssignment(addByWeights(i.initialAssignment, i.weights, i.newReplicas, i.bindingUID), e.result),
  "spread-by-target": (i, e) =>
    sameAssignment(divideByWeights(i.weightsFromTargetClusterReplicas, i.sum, i.bindingUID), e.result),
  "webster-classic": (i, e) => same(allocateWebsterSeats(i.newSeats, i.votes, i.initialSeats), e.seats),
  webster: (i, e) => {
    const tieBreaker = tieBreakerOf(i.tieBreaker);
    const seats = allocateWebsterSeats(i.newSeats, i.votes, i.initialSeats, tieBreaker as never);
    return same(seats ?? null, e.seats);
  },
  "dynamic-divide": (i, e) =>
    expectingError(e, () =>
      sameAssignment(
        divideByAvailable(
          i.availableClustersInOrder.map((c: Any) => ({ name: c.name, replicas: c.availableReplicas })),
          i.targetReplicas,
          i.strategy === "Aggregated",
          i.previousAssignment,
          i.bindingUID,
        ),
        e.assignment,
      ),
    ),
  "dynamic-scale": (i, e) =>
    expectingError(e, () =>
      sameAssignment(
        dynamicScale(i.candidates, i.previousAssignment, i.desiredReplicas, {
          aggregated: i.strategy === "Aggregated",
          mode: i.assignmentMode ?? "Steady",
          uid: i.bindingUID,
        }),
        e.assignment,
      ),
    ),
  "dynamic-scaleup": (i, e) =>
    expectingError(e, () =>
      sameAssignment(
        dynamicScale(i.candidates, i.previousAssignment, i.desiredReplicas, {
          aggregated: i.strategy === "Aggregated",
          uid: i.bindingUID,
          directScaleUp: true,
        }),
        e.assignment,
      ),
    ),
  duplicated: (i, e) => sameAssignment(duplicated(i.candidates, i.desiredReplicas), e.assignment),
  assign: (i, e) =>
    expectingError(e, () => {
      const placement = i.policy ?? {
        ...(i.replicaScheduling ? { replicaScheduling: i.replicaScheduling } : {}),
      };
      const result = assignReplicas({
        placement,
        clusters: i.clusters.map((c: Any) => candidate(c)),
        replicas: i.desiredReplicas,
        workload:
          i.desiredReplicas > 0 || (i.replicaRequirements !== undefined && i.replicaRequirements !== null),
        previousAssignment: i.previousAssignment ?? {},
        observedAffinityName: i.status?.schedulerObservedAffinityName,
      });
      if (Array.isArray(e.assignment)) return same(result, e.assignment);
      return sameAssignment(Object.fromEntries(result.map((t) => [t.name, t.replicas ?? 0])), e.assignment);
    }),
  select: (i, e) => {
    const placement = i.placement ?? {};
    const term = placement.clusterAffinities?.find(
      (t: Any) => t.affinityName === i.status?.schedulerObservedAffinityName,
    );
    // With no replicas the scheduler treats every cluster's capacity as unlimited.
    const candidates = Object.entries(i.clusterScores as Record<string, number>).map(([name, score]) => ({
      name,
      score,
      availableReplicas: 2 ** 31 - 1,
      allocatableReplicas: 2 ** 31 - 1,
      overflowOrder: term ? (overflowOrder({ name }, term) ?? 1000) : 0,
    }));
    const selected = selectClusters(candidates, placement, i.desiredReplicas ?? 0).map((c) => c.name);
    return same([...selected].sort(), [...e.selected].sort());
  },
  "select-best": (i, e) =>
    expectingError(e, () =>
      same(
        selectClusters(
          i.clustersSortedByScoreDesc.map((c: Any) => candidate(c)),
          i.placement,
          i.needReplicas,
        ).map((c) => c.name),
        e.selected,
      ),
    ),
  "select-groups": (i, e) =>
    same(
      selectGroups(
        i.groups.map((g: Any) => ({ name: g.name, value: g.clusterCount, weight: g.score })),
        i.minGroups,
        i.maxGroups,
        i.targetClusterCount,
      )?.map((g) => g.name) ?? null,
      e.selectedGroupsInOrder,
    ),
  "select-region": (i, e) =>
    expectingError(e, () => {
      // The test gives each region's score, so the groups are taken as scored.
      const groups = Object.entries(i.regions as Record<string, Any>).map(([name, r]) => ({
        name,
        score: r.regionScore,
        clusters: r.clustersSortedByScoreDesc.map((c: Any) => candidate({ ...c, region: name })),
      }));
      const [region, cluster] = ["region", "cluster"].map((field) =>
        i.spreadConstraints.find((c: Any) => c.spreadByField === field),
      );
      return same(
        selectFromGroups(groups, region, cluster, "region").map((c) => c.name),
        e.selectedInOrder,
      );
    }),
  "group-score": (i, e) => {
    const flags = strategyFlags(i.replicaStrategy);
    const score = (clusters: Any[]) =>
      groupScore(clusters, {
        duplicated: flags.duplicated,
        replicas: i.desiredReplicas,
        minGroups: i.minGroups,
        clusterMinGroups: 0,
      });
    const [one, two] = [score(i.group1), score(i.group2)];
    return same(
      { group1WinsOrTies: one >= two, group1: one, group2: two },
      { group1WinsOrTies: e.group1WinsOrTies, ...e.derivedScores },
    );
  },
  "group-score-dup": (i, e) =>
    same(
      groupScore(i.clusters, {
        duplicated: true,
        replicas: i.desiredReplicas,
        minGroups: 0,
        clusterMinGroups: 0,
      }),
      e.score,
    ),
  "group-clusters": (i, e) => {
    const clusters = i.clusters.map((c: Any) =>
      candidate({ ...c, availableReplicas: i.availableReplicasEveryCluster }),
    );
    const count = (key: (c: Candidate) => string[]) => new Set(clusters.flatMap(key)).size;
    return same(
      {
        clusterOrder: orderCandidates(clusters).map((c) => c.name),
        providerGroups: count((c: Candidate) => (c.provider ? [c.provider] : [])),
        regionGroups: count((c: Candidate) => (c.region ? [c.region] : [])),
        zoneGroups: count((c: Candidate) => c.zones ?? []),
      },
      {
        clusterOrder: e.clusterOrder,
        providerGroups: e.providerGroups,
        regionGroups: e.regionGroups,
        zoneGroups: e.zoneGroups,
      },
    );
  },
  affinity: (i, e) => same(clusterMatches(i.cluster, i.clusterAffinity), e.matches),
  "affinity-filter": (i, e) =>
    same(affinityFilter({ name: i.cluster }, i.placement, i.status?.schedulerObservedAffinityName), {
      code: e.code,
      ...(e.reason ? { reason: e.reason } : {}),
    }),
  toleration: (i, e) => {
    if (i.cluster)
      return same(taintFilter(i.cluster, i.clusterTolerations ?? [], i.bindingSpecClusters ?? []), {
        code: e.code,
        ...(e.reason ? { reason: e.reason } : {}),
      });
    const { allTolerated, used } = matchingTolerations(i.taints, i.tolerations);
    return same(
      { allTolerated, usedTolerations: used },
      { allTolerated: e.allTolerated, usedTolerations: e.usedTolerations },
    );
  },
  "toleration-time": (i, e) =>
    same(
      formatTolerationTime(minTolerationTime(i.noExecuteTaints, i.usedTolerations, new Date(i.now))),
      e.minTolerationTime,
    ),
  "image-parse": (i, e) => {
    const c = parseImage(i.image);
    return same(
      {
        registry: c.hostname,
        repository: c.repository,
        tag: c.tag,
        digest: c.digest,
        roundTripString: imageString(c),
      },
      {
        registry: e.registry,
        repository: e.repository,
        tag: e.tag,
        digest: e.digest,
        roundTripString: e.roundTripString,
      },
    );
  },
  "image-split": (i, e) => same(splitHostname(i.name), { hostname: e.hostname, repository: e.repository }),
  "image-example": (i, e) => {
    let c = parseImage(i.image);
    const outputs: string[] = [];
    for (const op of i.ops as string[]) {
      const [, name, argument = ""] = /^(\w+)\((.*)\)$/.exec(op) ?? [];
      if (name === "SetHostname") c = { ...c, hostname: argument };
      else if (name === "RemoveHostname") c = { ...c, hostname: "" };
      else if (name === "SetRepository") c = { ...c, repository: argument };
      else if (name === "SetTagOrDigest") c = setTagOrDigest(c, argument);
      else if (name === "RemoveTagOrDigest") c = removeTagOrDigest(c);
      else return `unknown image operation ${op}`;
      outputs.push(imageString(c));
    }
    return same(outputs, e.outputsAfterEachOp);
  },
  "image-override": (i, e) => {
    const containers = (i.containerImages as string[]).map((image, n) => ({ name: `c${n}`, image }));
    const manifest =
      i.resourceKind === "Pod"
        ? { kind: "Pod", spec: { containers } }
        : { kind: i.resourceKind, spec: { template: { spec: { containers } } } };
    return same(imageOverridePatches(manifest, i.imageOverrider), e.jsonPatches);
  },
  "selector-priority": (i, e) =>
    same(PRIORITY_NAMES[resourceSelectorPriority(i.resource, i.resourceSelector)], e.implicitPriority),
  "policy-match": (i, e) =>
    same(electPolicy(i.resource, i.propagationPolicies)?.name ?? null, e.selectedPolicy),
};

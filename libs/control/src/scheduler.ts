import { type Bus, type Delivery, isUnreachable } from "@atoll/bus";
import { hasSealedValues, openSecretValues, sealSecretValues, templateKey, workKey } from "@atoll/config";
import {
  ConflictResolution,
  create,
  PlacementReason,
  type PlacementRequest,
  placementCodec,
  WorkAction,
  WorkSchema,
  workCodec,
} from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import {
  type Authority,
  assessEvictionTasks,
  assumeReplicas,
  authorityCovers,
  bindingName,
  type ClusterState,
  coversEveryCluster,
  DEFAULT_EVICTION_GRACE_SECONDS,
  dependencies,
  type EvictionTask,
  electPolicy,
  FilterMemo,
  FLEET_AUTHORITY,
  type FleetDisruption,
  failureClearsResult,
  holderAfterPreemption,
  type OverridePolicyDoc,
  PlacementError,
  type PropagationPolicyDoc,
  type Rejections,
  type RenderedWork,
  type RenderTarget,
  reject,
  rejectedClusters,
  renderWorks,
  replicaRequests,
  type ScheduledRejections,
  scheduleBinding,
  type TemplateDoc,
} from "@atoll/placement";
import {
  type BindingDecision,
  type BindingRow,
  type ClusterRegistryRow,
  clusterWorks,
  databaseUnavailable,
  deleteBinding,
  forgetSends,
  forgetUnusedClusterSets,
  getBindings,
  getTemplate,
  getTemplates,
  indexQueuedBindings,
  listClusterRegistry,
  listPolicies,
  listWorks,
  markTemplatesPlaced,
  type PolicyRow,
  saveBinding,
  saveBindings,
  type TemplateKey,
  type TemplateRow,
  unplacedTemplates,
  unsentWorks,
  type WorkRow,
} from "@atoll/store";
import type postgres from "postgres";
import { requestPlacement } from "./apply.js";
import { AssumedLoad } from "./assumed-load.js";
import { type FleetHealth, fleetView } from "./fleet.js";

export const policyRef = (doc: { kind: string; metadata: { namespace?: string; name: string } }) =>
  `${doc.kind}/${doc.metadata.namespace ? `${doc.metadata.namespace}/` : ""}${doc.metadata.name}`;

/** Clusters as the scheduler sees them: the registry's properties, heartbeat capacity and readiness taints. */
export async function clusterStates(
  sql: postgres.Sql,
  fleet: FleetHealth,
  graceSeconds: number,
): Promise<ClusterState[]> {
  return fleetView(await listClusterRegistry(sql), fleet, Date.now(), graceSeconds * 1000).clusters;
}

/** Room left in a bus message for the work's name, cluster, generation and headers. */
const WORK_ENVELOPE_BYTES = 4096;

const UTF8 = new TextEncoder();

/** Manifests as a work message carries them, encoded once for the size check and the publish. */
const encodedManifests = new WeakMap<Record<string, unknown>, Uint8Array>();

function encodedManifest(manifest: Record<string, unknown>): Uint8Array {
  let bytes = encodedManifests.get(manifest);
  if (!bytes) {
    bytes = UTF8.encode(JSON.stringify(manifest));
    encodedManifests.set(manifest, bytes);
  }
  return bytes;
}

/** Bytes a cluster's manifests take in a work message. */
function workBytes(manifests: Record<string, unknown>[]): number {
  return manifests.reduce((sum, m) => sum + encodedManifest(m).length + 8, 0);
}

/**
 * How long replicas just placed count against a cluster's capacity. Agents report capacity every
 * few seconds, and the pods must first be created; until then the scheduler assumes them.
 */
const ASSUMED_FOR_MS = 15_000;

/**
 * Most placement requests decided and written together. A batch is one transaction, so it is
 * also how many bindings a failure makes the scheduler decide again.
 */
const PLACEMENT_BATCH = 500;

/** Decisions written together, while the next ones are decided. */
const WRITE_CHUNK = 100;

/**
 * Chunks written at once, each over its own connection. Writing is mostly Postgres's work; with
 * two at a time the database works while the other chunk's works are published: bench:placement
 * (10,000 templates over 1,000 clusters) took 14.5 and 14.9 s against 16.0 and 16.4 s with one.
 */
const WRITE_LANES = 2;

/** What placing one template comes to, before anything is written. */
interface Outcome {
  /** The policy that now claims the template ("" for none), when that changed. */
  claim?: string;
  /** The template is gone: its binding goes, and its works turn into deletes. */
  withdraw?: { namespace: string; name: string; preserve: boolean };
  save?: { decision: BindingDecision; conflict: "Abort" | "Overwrite" };
}

/** Rejections with more clusters' reasons added (clusters not among them yet). */
function withRejections(rejections: ScheduledRejections, more: Record<string, string>): ScheduledRejections {
  if (Object.keys(more).length === 0) return rejections;
  const added: Rejections = {};
  for (const [cluster, reason] of Object.entries(more)) reject(added, reason, cluster);
  const all: ScheduledRejections = { ...rejections };
  for (const [reason, clusters] of Object.entries(added))
    all[reason] = [...(all[reason] ? rejectedClusters(all[reason]) : []), ...clusters];
  return all;
}

/** Works to publish for one binding. */
interface WorkSend {
  namespace: string;
  name: string;
  works: WorkRow[];
  conflict: "Abort" | "Overwrite";
  /** Tells a deliberate resend apart from the first send, which NATS would drop as a repeat. */
  occasion?: string;
}

/** Most templates owed a placement that one look asks again for. */
const RELAY_BATCH = 1000;

/** Most outbox entries the relay publishes at a time; each holds the works of one write. */
const RELAY_SENDS = 10;

/**
 * How often cluster sets that no binding names any more are removed: they are few (a handful per
 * policy and fleet change), and the check reads every binding.
 */
const CLUSTER_SETS_SWEEP_MS = 10 * 60_000;

/**
 * How often the bindings written since are indexed for search, and how many per statement. A
 * binding's ResourceBinding in search runs about this far behind it, and the reports its clusters
 * send within one interval (they apply a new work at about the same time) are indexed once.
 */
const BINDING_INDEX_MS = 1000;
const BINDING_INDEX_BATCH = 1000;

/** A template's key as one string. */
const templateId = (key: TemplateKey) => JSON.stringify([key.apiVersion, key.kind, key.namespace, key.name]);

/**
 * Placement batches handled at once: one decides while the one before finishes its writes and
 * the one after reads what it can ahead (see placeInTurn), instead of the scheduler waiting on
 * them between batches.
 */
const CONCURRENT_BATCHES = 3;

/** The scheduler's consumer of placement requests. */
const PLACEMENT_CONSUMER = "scheduler";

/** Postgres or NATS out of reach: what to try again later, rather than any template's fault. */
const outage = (error: unknown) => databaseUnavailable(error) || isUnreachable(error);

/** A propagation policy as election weighs it, made once per batch rather than per template. */
interface PolicyCandidate {
  doc: PropagationPolicyDoc;
  name: string;
  /** None for a ClusterPropagationPolicy. */
  namespace: string | undefined;
  priority: number;
  resourceSelectors: PropagationPolicyDoc["spec"]["resourceSelectors"];
  clusterWide: boolean;
  preemption?: NonNullable<PropagationPolicyDoc["spec"]["preemption"]>;
  authority: Authority;
}

/** A batch's policies, sorted once for all its templates. */
interface BatchPolicies {
  propagation: PolicyCandidate[];
  overrides: { doc: OverridePolicyDoc; authority: Authority }[];
}

function batchPolicies(policies: Awaited<ReturnType<typeof listPolicies>>): BatchPolicies {
  const propagation: PolicyCandidate[] = [];
  const overrides: BatchPolicies["overrides"] = [];
  for (const p of policies) {
    if (p.kind === "OverridePolicy" || p.kind === "ClusterOverridePolicy")
      overrides.push({ doc: p.document as unknown as OverridePolicyDoc, authority: p.authority });
    if (p.kind !== "PropagationPolicy" && p.kind !== "ClusterPropagationPolicy") continue;
    const doc = p.document as unknown as PropagationPolicyDoc;
    propagation.push({
      doc,
      name: doc.metadata.name,
      namespace: p.kind === "PropagationPolicy" ? doc.metadata.namespace : undefined,
      priority: doc.spec.priority ?? 0,
      resourceSelectors: doc.spec.resourceSelectors,
      clusterWide: p.kind === "ClusterPropagationPolicy",
      ...(doc.spec.preemption ? { preemption: doc.spec.preemption } : {}),
      authority: p.authority,
    });
  }
  return { propagation, overrides };
}

export interface PlacementContext {
  policies: BatchPolicies;
  clusters: ClusterState[];
  /** Where each cluster is in clusters, by name: a decision looks clusters up by name, per cluster it places on. */
  indexOf: Map<string, number>;
  disruption: FleetDisruption;
  /** Filter verdicts the batch's templates share. */
  memo: FilterMemo;
}

/** What a batch's context is made from, as read from Postgres. */
interface ContextRead {
  policies: PolicyRow[];
  registry: ClusterRegistryRow[];
}

export interface PlacementControllerOptions {
  sql: postgres.Sql;
  bus: Bus;
  logger: Logger;
  /** Heartbeats as heard on the bus: readiness and capacity. */
  fleet: FleetHealth;
  /** A cluster with no heartbeat for this long is unreachable: tainted NoSchedule, nothing moves. */
  graceSeconds?: number;
  /** How long a graceful eviction keeps the old copy at most (Karmada's --graceful-eviction-timeout). */
  evictionGraceSeconds?: number;
  /** The hub's key: opens Secret templates' sealed values and seals each cluster's copy. */
  secretKey?: Buffer;
}

/**
 * Turns placement requests into bindings and works: elects the policy, schedules, renders each
 * cluster's manifests with overrides and dependencies, stores it all, then publishes the works.
 */
export class PlacementController {
  /** Replicas placed lately on each cluster, which its heartbeats may not count yet. */
  private readonly assumed = new AssumedLoad(ASSUMED_FOR_MS);

  /** Settles once the batch deciding now has decided: the next one waits for it. */
  private deciding: Promise<void> = Promise.resolve();

  /** Batches under way, by template: each settles once its batch is written (or has failed). */
  private readonly placing = new Map<string, Promise<void>>();

  constructor(private readonly options: PlacementControllerOptions) {}

  /** Policies and cluster states, read once for a batch of requests rather than per template. */
  async loadContext(): Promise<PlacementContext> {
    return this.contextFrom(await this.readContext());
  }

  /** What a batch's context is made from in Postgres: its policies and the cluster registry. */
  private async readContext(): Promise<ContextRead> {
    const { sql } = this.options;
    const [policies, registry] = await Promise.all([listPolicies(sql), listClusterRegistry(sql)]);
    return { policies, registry };
  }

  /** A batch's context from what was read, the fleet's health as heard now and the replicas assumed. */
  private contextFrom({ policies, registry }: ContextRead): PlacementContext {
    const { fleet } = this.options;
    const { clusters, disruption } = fleetView(
      registry,
      fleet,
      Date.now(),
      (this.options.graceSeconds ?? 30) * 1000,
    );
    this.assumed.expire(Date.now());
    const assumedClusters = clusters.map((cluster) => {
      const load = this.assumed.of(cluster.name);
      return load ? assumeReplicas(cluster, load, 1) : cluster;
    });
    return {
      policies: batchPolicies(policies),
      clusters: assumedClusters,
      indexOf: new Map(assumedClusters.map((cluster, index) => [cluster.name, index])),
      disruption,
      memo: new FilterMemo(),
    };
  }

  /** Counts replicas a decision adds to a cluster against it, in this batch and the next ones. */
  private assume(
    context: PlacementContext,
    template: TemplateDoc,
    placed: { name: string; replicas?: number }[],
    before: { name: string; replicas?: number }[],
  ): void {
    const requests = replicaRequests(template);
    if (!requests) return;
    for (const target of placed) {
      const added = (target.replicas ?? 0) - (before.find((b) => b.name === target.name)?.replicas ?? 0);
      const index = context.indexOf.get(target.name);
      if (added <= 0 || index === undefined) continue;
      context.clusters[index] = assumeReplicas(context.clusters[index]!, requests, added);
      this.assumed.add(target.name, requests, added, Date.now());
    }
  }

  /**
   * Places a batch while the ones before it may still be deciding or writing. Batches decide one
   * at a time, each from a context made once the one before has decided (its replicas count
   * against what is left). A template an earlier batch holds is read, with its binding, only once
   * that batch has written it; the policies, the registry and the other templates are read while
   * the batches before decide, so that this one starts deciding as soon as they are done.
   */
  async placeInTurn(keys: TemplateKey[]): Promise<{ key: TemplateKey; error: unknown }[]> {
    const before = this.deciding;
    let decided!: () => void;
    this.deciding = new Promise<void>((resolve) => {
      decided = resolve;
    });
    let finished!: () => void;
    const placed = new Promise<void>((resolve) => {
      finished = resolve;
    });
    // Taken before anything is awaited, so batches hold their templates in the order they came.
    const earlier = keys.map((key) => this.placing.get(templateId(key)));
    for (const key of keys) this.placing.set(templateId(key), placed);
    const held = keys.filter((_, i) => earlier[i]);
    const { sql } = this.options;
    const ahead = Promise.all([
      this.readContext(),
      getTemplates(
        sql,
        keys.filter((_, i) => !earlier[i]),
      ),
    ]);
    // Settled here too: should the batch stop before it waits for them, their failure is its own.
    ahead.catch(() => undefined);
    try {
      await before;
      await Promise.all(earlier);
      const [read, free] = await ahead;
      const templates = held.length ? [...free, ...(await getTemplates(sql, held))] : free;
      return await this.placeAll(keys, this.contextFrom(read), decided, templates);
    } finally {
      decided();
      finished();
      for (const key of keys)
        if (this.placing.get(templateId(key)) === placed) this.placing.delete(templateId(key));
    }
  }

  /** Places one template: a batch of one. */
  async place(key: TemplateKey, batchContext?: PlacementContext): Promise<void> {
    const failures = await this.placeAll([key], batchContext ?? (await this.loadContext()));
    if (failures[0]) throw failures[0].error;
  }

  /**
   * Places templates together: their templates and bindings are read in one query each, each is
   * decided in turn (a decision's replicas count against the next one's capacity), and the
   * decisions are written in one transaction and their works published together. Postgres or
   * NATS out of reach throws, for the whole batch to be tried again, which is idempotent; a
   * template whose own data fails it is returned with its error and the others go on.
   */
  async placeAll(
    keys: TemplateKey[],
    context: PlacementContext,
    onDecided?: () => void,
    templatesRead?: TemplateRow[],
  ): Promise<{ key: TemplateKey; error: unknown }[]> {
    const { sql } = this.options;
    const failures: { key: TemplateKey; error: unknown }[] = [];
    const nameOf = (key: TemplateKey) => bindingName({ kind: key.kind, metadata: { name: key.name } });
    const [templates, bindings] = await Promise.all([
      templatesRead ?? getTemplates(sql, keys),
      getBindings(
        sql,
        keys.map((key) => ({ namespace: key.namespace, name: nameOf(key) })),
      ),
    ]);
    const templateOf = new Map(templates.map((t) => [templateId(t), t]));
    // The policy each template's decision found claims it, where that changed.
    const claims = new Map<string, string>();
    const bindingOf = new Map(bindings.map((b) => [`${b.namespace}/${b.name}`, b]));
    // Deciding is the scheduler's work and writing is mostly Postgres's and NATS's: a chunk's
    // decisions are written while the next chunk is decided. Chunks hold different templates,
    // so their writes are independent: they go in WRITE_LANES lanes, one after the other in each.
    const lanes: Promise<void>[] = Array.from({ length: WRITE_LANES }, () => Promise.resolve());
    let writeFailure: { error: unknown } | undefined;
    try {
      for (let start = 0; start < keys.length; start += WRITE_CHUNK) {
        // A failed write (an outage) ends the batch, to be tried again; nothing more is decided.
        if (writeFailure) throw writeFailure.error;
        const outcomes: { key: TemplateKey; outcome: Outcome }[] = [];
        for (const key of keys.slice(start, start + WRITE_CHUNK)) {
          try {
            const outcome = await this.decide(
              key,
              context,
              templateOf.get(templateId(key)),
              bindingOf.get(`${key.namespace}/${nameOf(key)}`),
            );
            outcomes.push({ key, outcome });
            if (outcome.claim !== undefined) claims.set(templateId(key), outcome.claim);
          } catch (error) {
            if (outage(error)) throw error;
            failures.push({ key, error });
          }
        }
        const lane = (start / WRITE_CHUNK) % WRITE_LANES;
        const written = lanes[lane]!.then(async () => {
          failures.push(...(await this.write(outcomes)));
        });
        lanes[lane] = written;
        written.catch((error: unknown) => {
          writeFailure ??= { error };
        });
      }
      onDecided?.();
      await Promise.all(lanes);
    } catch (error) {
      // Every write under way ends before the batch is tried again.
      await Promise.allSettled(lanes);
      throw error;
    }
    // Every template read was placed or failed on its own data (logged by the caller); either way
    // the request it was read with is answered. One changed since keeps its newer one owed. The
    // policies that now claim templates are recorded with it, in the same statement.
    await markTemplatesPlaced(
      sql,
      templates.map((template) => ({ ...template, claim: claims.get(templateId(template)) })),
    );
    return failures;
  }

  /** Writes decided outcomes: withdrawals, then the saves in one transaction. */
  private async write(
    outcomes: { key: TemplateKey; outcome: Outcome }[],
  ): Promise<{ key: TemplateKey; error: unknown }[]> {
    const { sql } = this.options;
    for (const { outcome } of outcomes)
      if (outcome.withdraw) {
        const { namespace, name, preserve } = outcome.withdraw;
        await this.publish([
          {
            namespace,
            name,
            works: await deleteBinding(sql, namespace, name, { preserve }),
            conflict: "Abort",
          },
        ]);
      }
    const saves = outcomes.flatMap(({ key, outcome }) => (outcome.save ? [{ key, save: outcome.save }] : []));
    return await this.commitAll(saves);
  }

  /**
   * What placing one template comes to, from its template and binding as read: nothing is
   * written here. Reads only what few templates need (dependencies, works under eviction).
   */
  private async decide(
    key: TemplateKey,
    context: PlacementContext,
    template: TemplateRow | undefined,
    previous: BindingRow | undefined,
  ): Promise<Outcome> {
    const { sql, logger } = this.options;
    const { clusters } = context;
    const { propagation, overrides } = context.policies;
    const bindingNamespace = key.namespace;
    const name = bindingName({ kind: key.kind, metadata: { name: key.name } });
    if (!template) {
      // The user deleted the template: it leaves every cluster, unless its policy preserves it there.
      if (!previous) return {};
      const preserve = Boolean(
        propagation.find((p) => policyRef(p.doc) === previous.policy)?.doc.spec.preserveResourcesOnDeletion,
      );
      return { withdraw: { namespace: bindingNamespace, name, preserve } };
    }
    const doc = template.document as TemplateDoc;
    // A claimed template keeps its policy unless a policy with preemption Always takes it;
    // otherwise the namespace's policies beat cluster-wide ones.
    const candidates = propagation.filter((c) => c.clusterWide || c.namespace === key.namespace);
    const elect = (list: PolicyCandidate[]) => electPolicy(doc as never, list)?.doc;
    const holder = candidates.find((c) => policyRef(c.doc) === template.claimedBy && elect([c]));
    const claimed = holder && holderAfterPreemption(doc as never, holder, candidates).doc;
    const policy =
      claimed ??
      elect(candidates.filter((c) => !c.clusterWide)) ??
      elect(candidates.filter((c) => c.clusterWide));
    const base = {
      namespace: bindingNamespace,
      name,
      apiVersion: key.apiVersion,
      kind: key.kind,
      templateName: key.name,
      uid: template.uid,
    };
    if (!policy) {
      // Its policy is gone: as in Karmada, the binding and the member objects stay and the
      // template waits for another policy to claim it. Nothing is withdrawn.
      const claim = template.claimedBy ? "" : undefined;
      if (!previous || previous.condition === "NoPolicy") return claim === undefined ? {} : { claim };
      return this.saved(
        claim,
        {
          ...previous,
          ...base,
          policy: "",
          condition: "NoPolicy",
          message:
            "no policy selects this template any more; it stays on its clusters as it is until a policy claims it " +
            "(delete the template to withdraw it)",
        },
        {},
        previous.clusters.map((c) => c.name),
        "Abort",
        previous,
      );
    }
    const claim = policyRef(policy) !== template.claimedBy ? policyRef(policy) : undefined;
    const conflict = policy.spec.conflictResolution ?? "Abort";
    const known = context.indexOf;
    // Both the template and its policy carry the clusters their authors could write; nothing is
    // placed outside either, and what already runs outside them is left as it is.
    const policyAuthority = propagation.find((p) => p.doc === policy)?.authority ?? FLEET_AUTHORITY;
    const outsideGrants = (cluster: string) =>
      !authorityCovers(template.authority, cluster)
        ? `outside the write grants of ${template.authority.appliedBy || "the hub"}, who applied the template`
        : !authorityCovers(policyAuthority, cluster)
          ? `outside the write grants of ${policyAuthority.appliedBy || "the hub"}, who applied ${policyRef(policy)}`
          : undefined;
    // The hub's own authority covers every cluster: most templates need no look at each one.
    const unauthorized: Record<string, string> = {};
    if (!coversEveryCluster(template.authority) || !coversEveryCluster(policyAuthority))
      for (const c of clusters) {
        const reason = outsideGrants(c.name);
        if (reason) unauthorized[c.name] = reason;
      }
    const authorized = Object.keys(unauthorized).length
      ? clusters.filter((c) => !unauthorized[c.name])
      : clusters;
    // Graceful eviction: a task ends once the new home is healthy or its grace period is over;
    // while the hub doubts its own view of the fleet, none ends.
    const tasks = (previous?.evictionTasks ?? []) as unknown as EvictionTask[];
    // The new home counts as healthy only once the binding was rescheduled without the evicted
    // clusters and each of its clusters reported the current work applied and healthy.
    const current = tasks.length ? await listWorks(sql, bindingNamespace, name) : [];
    const rescheduled = !(previous?.clusters ?? []).some((c) => tasks.some((t) => t.fromCluster === c.name));
    const { remaining, ended } = context.disruption.disrupted
      ? { remaining: tasks, ended: [] as EvictionTask[] }
      : assessEvictionTasks(
          tasks,
          previous?.clusters.map((c) => c.name) ?? [],
          (cluster) => {
            const work = current.find((w) => w.cluster === cluster);
            const view = previous?.aggregatedStatus[cluster] as
              | { applied?: boolean; healthy?: boolean; generation?: number }
              | undefined;
            return (
              rescheduled &&
              work?.action === "apply" &&
              view?.generation === work.generation &&
              view.applied === true &&
              view.healthy !== false
            );
          },
          new Date(),
          this.options.evictionGraceSeconds ?? DEFAULT_EVICTION_GRACE_SECONDS,
        );
    for (const task of ended)
      logger.info(
        { binding: `${bindingNamespace}/${name}`, cluster: task.fromCluster, purgeMode: task.purgeMode },
        "eviction finished; withdrawing the old copy",
      );
    const evicting = remaining.map((t) => t.fromCluster);
    // Karmada's ClusterEviction filter keeps evicted clusters out; a deregistered cluster is gone.
    const previousClusters = (previous?.clusters ?? []).filter(
      (c) => known.has(c.name) && !evicting.includes(c.name) && !unauthorized[c.name],
    );
    const gracefulKeep = remaining.filter((t) => t.purgeMode === "Gracefully").map((t) => t.fromCluster);
    const suspendedOn = (cluster: string) =>
      policy.spec.suspension?.dispatching === true ||
      (policy.spec.suspension?.dispatchingOnClusters?.clusterNames ?? []).includes(cluster);
    let decision: ReturnType<typeof scheduleBinding>;
    try {
      decision = scheduleBinding({
        template: doc,
        placement: policy.spec.placement ?? {},
        clusters: authorized,
        uid: template.uid,
        memo: context.memo,
        evicting,
        ...(previous
          ? {
              previous: {
                clusters: previousClusters,
                ...(previous.observedAffinity ? { observedAffinityName: previous.observedAffinity } : {}),
              },
            }
          : {}),
      });
    } catch (error) {
      if (!(error instanceof PlacementError)) throw error;
      // Only a policy (or the clusters' own properties) that rejects every cluster the workload
      // runs on clears the result, as the user asked; any other failure keeps what runs.
      const clear = failureClearsResult(
        error,
        (previous?.clusters ?? []).map((c) => c.name).filter((c) => known.has(c)),
      );
      logger.warn(
        { binding: `${bindingNamespace}/${name}`, reason: error.message, keeping: !clear },
        "could not schedule",
      );
      const keptClusters = clear ? [] : (previous?.clusters ?? []);
      return this.saved(
        claim,
        {
          ...base,
          policy: policyRef(policy),
          clusters: keptClusters,
          observedAffinity: previous?.observedAffinity ?? "",
          rejected: previous?.rejected ?? {},
          condition: error.code === "NO_CLUSTERS" ? "NoClusterFit" : "Unschedulable",
          message: [
            clear
              ? error.message
              : `${error.message} The workload stays where it runs${keptClusters.length ? ` (${keptClusters.map((c) => c.name).join(", ")})` : ""} until the policy or the clusters change.`,
            ...(context.disruption.disrupted ? [context.disruption.message] : []),
          ].join(" "),
          evictionTasks: remaining as never,
        },
        {},
        [...(clear ? [] : keptClusters.map((c) => c.name)), ...gracefulKeep, ...Object.keys(unauthorized)],
        conflict,
        previous,
      );
    }
    this.assume(context, doc, decision.clusters, previous?.clusters ?? []);
    const { manifests, failures } = await this.renderAll(
      doc,
      decision.clusters,
      context,
      overrides,
      policy,
      name,
    );
    const leftAlone = (previous?.clusters ?? []).filter((c) => unauthorized[c.name]).map((c) => c.name);
    const suspended = [
      ...new Set([...decision.clusters.map((c) => c.name), ...(previous?.clusters ?? []).map((c) => c.name)]),
    ].filter(suspendedOn);
    const notes = [
      ...Object.entries(failures).map(([cluster, reason]) => `not dispatched to ${cluster}: ${reason}`),
      ...(suspended.length ? [`dispatching suspended on ${suspended.join(", ")} by the policy`] : []),
      ...remaining.map((t) => `leaving ${t.fromCluster} (${t.reason}, ${t.purgeMode})`),
      ...leftAlone.map((c) => `left as it is on ${c}: ${unauthorized[c]}`),
      ...(context.disruption.disrupted ? [context.disruption.message] : []),
    ];
    const placedOn = decision.clusters
      .map((c) => (c.replicas === undefined ? c.name : `${c.name} (${c.replicas})`))
      .join(", ");
    return this.saved(
      claim,
      {
        ...base,
        policy: policyRef(policy),
        clusters: decision.clusters,
        observedAffinity: decision.observedAffinityName ?? "",
        rejected: withRejections(decision.rejected, unauthorized),
        condition: "Success",
        message: [`placed on ${placedOn}`, ...notes].join("; "),
        evictionTasks: remaining as never,
      },
      manifests,
      [...Object.keys(failures), ...suspended, ...gracefulKeep, ...Object.keys(unauthorized)],
      conflict,
      previous,
    );
  }

  /**
   * A decision to save; the works of clusters in `keep` stay as they are. A cluster's work that
   * would not fit in one bus message is not sent at all: what runs stays as it is everywhere, and
   * the binding says why.
   */
  private saved(
    claim: string | undefined,
    binding: BindingDecision["binding"],
    manifests: BindingDecision["manifests"],
    keep: string[],
    conflict: "Abort" | "Overwrite",
    previous: BindingRow | undefined,
  ): Outcome {
    const { bus, logger } = this.options;
    const limit = bus.maxPayload() - WORK_ENVELOPE_BYTES;
    const oversized = Object.entries(manifests)
      .map(([cluster, list]) => ({ cluster, bytes: workBytes(list) }))
      .find(({ bytes }) => bytes > limit);
    const claimed = claim === undefined ? {} : { claim };
    if (!oversized) return { ...claimed, save: { decision: { binding, manifests, keep }, conflict } };
    const message =
      `the work for cluster ${oversized.cluster} takes ${oversized.bytes} bytes, more than the ${limit} one ` +
      "NATS message may carry (the server's max_payload, less room for the envelope): make the template and " +
      "its dependencies smaller, or raise max_payload in the NATS server configuration";
    logger.warn({ binding: `${binding.namespace}/${binding.name}`, cluster: oversized.cluster }, message);
    const running = previous?.clusters ?? [];
    return {
      ...claimed,
      save: {
        decision: {
          binding: {
            ...binding,
            clusters: running,
            observedAffinity: previous?.observedAffinity ?? "",
            rejected: previous?.rejected ?? {},
            condition: "WorkTooLarge",
            message,
          },
          manifests: {},
          keep: [...new Set([...running.map((c) => c.name), ...Object.keys(manifests), ...keep])],
        },
        conflict,
      },
    };
  }

  /**
   * Saves decisions in one transaction, then publishes the works they change together. Should the
   * transaction fail for a reason other than an outage, each is saved on its own, so that one
   * template's fault costs only its own placement.
   */
  private async commitAll(
    saves: { key: TemplateKey; save: NonNullable<Outcome["save"]> }[],
  ): Promise<{ key: TemplateKey; error: unknown }[]> {
    const { sql } = this.options;
    const failures: { key: TemplateKey; error: unknown }[] = [];
    let written: { works: WorkRow[]; save: NonNullable<Outcome["save"]> }[];
    try {
      const works = await saveBindings(
        sql,
        saves.map(({ save }) => save.decision),
      );
      written = saves.map(({ save }, i) => ({ works: works[i]!, save }));
    } catch (error) {
      if (outage(error) || saves.length === 1) throw error;
      written = [];
      for (const { key, save } of saves) {
        try {
          written.push({
            works: await saveBinding(sql, save.decision.binding, save.decision.manifests, save.decision.keep),
            save,
          });
        } catch (error) {
          if (outage(error)) throw error;
          failures.push({ key, error });
        }
      }
    }
    await this.publish(
      written.map(({ works, save }) => ({
        namespace: save.decision.binding.namespace,
        name: save.decision.binding.name,
        works,
        conflict: save.conflict,
      })),
    );
    return failures;
  }

  private async renderAll(
    template: TemplateDoc,
    targets: { name: string; replicas?: number }[],
    context: Pick<PlacementContext, "clusters" | "indexOf">,
    overrides: { doc: OverridePolicyDoc; authority: Authority }[],
    policy: PropagationPolicyDoc,
    name: string,
  ): Promise<{
    manifests: Record<string, Record<string, unknown>[]>;
    failures: Record<string, string>;
  }> {
    const deps: TemplateDoc[] = [];
    if (policy.spec.propagateDeps) {
      for (const dep of dependencies(template)) {
        const found = await getTemplate(this.options.sql, {
          apiVersion: "v1",
          kind: dep.kind,
          namespace: template.metadata.namespace ?? "",
          name: dep.name,
        });
        if (found) deps.push(found.document as TemplateDoc);
      }
    }
    const manifests: Record<string, Record<string, unknown>[]> = {};
    const failures: Record<string, string> = {};
    const { secretKey } = this.options;
    const sealed = [template, ...deps].some(hasSealedValues);
    if (sealed && !secretKey) {
      for (const target of targets)
        failures[target.name] =
          "it holds a Secret with sealed values and the scheduler has no ATOLL_SECRET_KEY to open them; set the hub's key on the scheduler";
      return { manifests, failures };
    }
    // Each cluster gets its Secrets sealed under its own key, which only its agent holds.
    const opened = (doc: TemplateDoc) =>
      secretKey && sealed ? (openSecretValues(templateKey(secretKey), doc) as TemplateDoc) : doc;
    const openedTemplate = opened(template);
    const openedDeps = deps.map(opened);
    // An override changes only clusters its author could write: clusters are rendered together
    // with the overrides they may get (for most bindings, every cluster with all of them).
    const byOverrides = new Map<
      string,
      { policies: OverridePolicyDoc[]; at: number[]; targets: RenderTarget[] }
    >();
    for (const [at, target] of targets.entries()) {
      const permitted = overrides.flatMap((o, i) => (authorityCovers(o.authority, target.name) ? [i] : []));
      const key = permitted.join(",");
      let group = byOverrides.get(key);
      if (!group) {
        group = { policies: permitted.map((i) => overrides[i]!.doc), at: [], targets: [] };
        byOverrides.set(key, group);
      }
      const index = context.indexOf.get(target.name);
      group.at.push(at);
      group.targets.push({
        cluster: (index === undefined ? undefined : context.clusters[index]) ?? { name: target.name },
        replicas: target.replicas,
      });
    }
    const works: RenderedWork[] = [];
    for (const group of byOverrides.values())
      renderWorks({
        template: openedTemplate,
        dependencies: openedDeps,
        overridePolicies: group.policies,
        binding: `${template.metadata.namespace ?? ""}.${name}`,
        targets: group.targets,
      }).forEach((work, i) => {
        works[group.at[i]!] = work;
      });
    for (const [at, target] of targets.entries()) {
      const work = works[at]!;
      // As Karmada's ensureWork: an override that cannot apply for one cluster costs that
      // cluster's work only; the others are rendered and sent.
      if ("error" in work) {
        failures[target.name] = `its overrides could not be applied: ${work.error.message}`;
        continue;
      }
      const clusterKey = secretKey && workKey(secretKey, target.name);
      manifests[target.name] = clusterKey
        ? work.manifests.map((m) => sealSecretValues(clusterKey, m))
        : work.manifests;
    }
    return { manifests, failures };
  }

  /**
   * Sends a cluster every work it should be running again. A restarted agent has forgotten what
   * it applied, so without them it would not keep their status current until each one changed.
   */
  async resendWorks(cluster: string, agentId: string): Promise<number> {
    const works = await clusterWorks(this.options.sql, cluster);
    await this.publishStored(works, `resent-to-${agentId}`);
    return works.length;
  }

  /**
   * Asks again for the placements owed to templates whose request never reached the bus (the
   * query service died between storing the change and publishing the request) or whose deletion
   * was never acted on. Only while the placement queue is empty: a request still queued is late,
   * not lost. Returns how many it asked for.
   */
  async requestOwedPlacements(settleMs: number): Promise<number> {
    const { bus, sql, logger } = this.options;
    const queue = await bus.jsm.consumers.info(bus.names.streams.placement, PLACEMENT_CONSUMER);
    if (queue.num_pending + queue.num_ack_pending > 0) return 0;
    const owed = await unplacedTemplates(sql, RELAY_BATCH, settleMs / 1000);
    for (const { deleted, ...key } of owed)
      await requestPlacement(
        bus,
        key,
        deleted ? PlacementReason.TEMPLATE_DELETED : PlacementReason.TEMPLATE_CHANGED,
      );
    if (owed.length)
      logger.warn({ templates: owed.length }, "asked again for placements whose requests were lost");
    return owed.length;
  }

  /**
   * Publishes the works a scheduler committed but did not publish, having stopped in between (the
   * outbox's relay). Works changed within `settleMs` are left to the scheduler publishing them.
   */
  async relayUnsentWorks(settleMs: number): Promise<number> {
    const works = await unsentWorks(this.options.sql, RELAY_SENDS, settleMs / 1000);
    await this.publishStored(works);
    if (works.length)
      this.options.logger.info(
        { works: works.length },
        "published works committed before a scheduler stopped",
      );
    return works.length;
  }

  /** Publishes works as stored, each under its binding's policy's conflict resolution. */
  private async publishStored(
    works: (WorkRow & { namespace: string; name: string; policy: string })[],
    occasion?: string,
  ): Promise<void> {
    if (works.length === 0) return;
    const conflicts = new Map(
      (await listPolicies(this.options.sql)).map((p) => {
        const doc = p.document as unknown as PropagationPolicyDoc;
        return [policyRef(doc), doc.spec?.conflictResolution ?? "Abort"] as const;
      }),
    );
    await this.publish(
      works.map((work) => ({
        namespace: work.namespace,
        name: work.name,
        works: [work],
        conflict: conflicts.get(work.policy) ?? "Abort",
        ...(occasion ? { occasion } : {}),
      })),
    );
  }

  /**
   * Publishes works, all at once, then records that they reached the bus. Each carries the
   * message id `<cluster>:<binding>:<generation>`, so NATS drops a repeat of one already sent.
   */
  private async publish(sends: WorkSend[]): Promise<void> {
    const { bus, sql } = this.options;
    await bus.publishAll(
      sends.flatMap(({ namespace, name, works, conflict, occasion }) =>
        works.map((work) => ({
          subject: bus.names.work(work.cluster),
          data: workCodec.encode(
            create(WorkSchema, {
              cluster: work.cluster,
              name: `${namespace}/${name}`,
              generation: BigInt(work.generation),
              action: work.action === "apply" ? WorkAction.APPLY : WorkAction.DELETE,
              manifests: work.manifests.map(encodedManifest),
              conflictResolution:
                conflict === "Overwrite" ? ConflictResolution.OVERWRITE : ConflictResolution.ABORT,
              preserveResources: work.preserve ?? false,
            }),
          ),
          msgId: `${work.cluster}:${namespace}/${name}:${work.generation}${occasion ? `:${occasion}` : ""}`,
        })),
      ),
    );
    // On the bus: the outbox entries that would have sent them again go.
    await forgetSends(sql, [
      ...new Set(sends.flatMap(({ works }) => works.flatMap((work) => (work.send ? [work.send] : [])))),
    ]);
  }

  /**
   * Consumes placement requests in batches. An outage retries the whole batch, which is
   * idempotent; one template's failure is logged and skipped. `ackWaitMs` bounds how long the
   * requests a dead scheduler had taken wait before another one gets them; a batch in progress
   * is kept alive past it. Works a stopped scheduler committed but did not publish are published
   * at the start and then every `ackWaitMs` (30 s by default).
   */
  async start(options: { ackWaitMs?: number } = {}): Promise<{ stop(): Promise<void> }> {
    const { bus, logger } = this.options;
    const relayMs = options.ackWaitMs ?? 30_000;
    let relaying: Promise<unknown> = Promise.resolve();
    const relay = () => {
      relaying = Promise.all([
        this.relayUnsentWorks(relayMs).catch((error: unknown) =>
          logger.warn(
            { err: (error as Error).message },
            "could not publish unsent works; trying again later",
          ),
        ),
        this.requestOwedPlacements(relayMs).catch((error: unknown) =>
          logger.warn(
            { err: (error as Error).message },
            "could not look for placements whose requests were lost; trying again later",
          ),
        ),
      ]);
    };
    const consumption = await bus.consume({
      stream: bus.names.streams.placement,
      durable: PLACEMENT_CONSUMER,
      filterSubject: bus.names.placement(),
      codec: placementCodec,
      maxBatch: PLACEMENT_BATCH,
      concurrentBatches: CONCURRENT_BATCHES,
      ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
      transient: outage,
      validate: (r) =>
        r.kind && r.name && r.apiVersion
          ? undefined
          : "a placement request names a template's apiVersion, kind and name",
      handler: async (deliveries: Delivery<PlacementRequest>[]) => {
        // Each template once per batch.
        const keys = new Map<string, TemplateKey>();
        for (const { data } of deliveries)
          keys.set(templateId(data), {
            apiVersion: data.apiVersion,
            kind: data.kind,
            namespace: data.namespace,
            name: data.name,
          });
        // Postgres or NATS out of reach throws, and the whole batch is tried again once they are
        // back. Anything else is one template's own fault and must not hold up the others.
        const failures = await this.placeInTurn([...keys.values()]);
        for (const { key, error } of failures)
          logger.error(
            { template: `${key.kind} ${key.namespace}/${key.name}`, err: (error as Error).message },
            "could not place the template; skipping it",
          );
        logger.debug({ templates: keys.size }, "placed a batch");
      },
    });
    // After the consumer exists: the relay looks at its queue.
    relay();
    const relays = setInterval(relay, relayMs);
    // One pass at a time: a pass takes the whole queue, a statement per BINDING_INDEX_BATCH.
    let indexing: Promise<void> | undefined;
    const indexBindings = () => {
      indexing ??= (async () => {
        while ((await indexQueuedBindings(this.options.sql, BINDING_INDEX_BATCH)) === BINDING_INDEX_BATCH);
      })()
        .catch((error: unknown) =>
          logger.warn(
            { err: (error as Error).message },
            "could not bring the index's bindings up to date; trying again shortly",
          ),
        )
        .finally(() => {
          indexing = undefined;
        });
    };
    const indexes = setInterval(indexBindings, BINDING_INDEX_MS);
    const sweeps = setInterval(() => {
      forgetUnusedClusterSets(this.options.sql).catch((error: unknown) =>
        logger.warn(
          { err: (error as Error).message },
          "could not remove cluster sets no binding names; trying again later",
        ),
      );
    }, CLUSTER_SETS_SWEEP_MS);
    return {
      stop: async () => {
        clearInterval(relays);
        clearInterval(sweeps);
        clearInterval(indexes);
        await consumption.stop();
        await Promise.all([relaying, indexing]);
      },
    };
  }
}

/**
 * Clusters whose agent has restarted since the last look: the heartbeat names a different agent.
 * The first sight of a cluster is not a restart. `known` carries each cluster's agent between
 * calls; a restarted one stays as it was until the caller records it, once it has acted.
 */
export function restartedAgents(
  known: Map<string, string>,
  clusters: { name: string; status: Record<string, unknown> }[],
): { cluster: string; agentId: string }[] {
  const restarted: { cluster: string; agentId: string }[] = [];
  for (const cluster of clusters) {
    const agentId = cluster.status.agentId;
    if (typeof agentId !== "string" || !agentId) continue;
    const before = known.get(cluster.name);
    if (before === undefined) known.set(cluster.name, agentId);
    else if (before !== agentId) restarted.push({ cluster: cluster.name, agentId });
  }
  return restarted;
}

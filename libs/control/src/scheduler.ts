import type { Bus, Delivery } from "@atoll/bus";
import {
  ConflictResolution,
  create,
  type PlacementRequest,
  placementCodec,
  WorkAction,
  WorkSchema,
  workCodec,
} from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import {
  assumeReplicas,
  bindingName,
  type ClusterState,
  dependencies,
  electPolicy,
  holderAfterPreemption,
  type OverridePolicyDoc,
  PlacementError,
  type PropagationPolicyDoc,
  type Resources,
  replicaRequests,
  scheduleBinding,
  type TemplateDoc,
  workManifests,
} from "@atoll/placement";
import {
  type BindingRow,
  claimTemplate,
  clusterWorks,
  dataErrorReason,
  deleteBinding,
  getBinding,
  getTemplate,
  listClusters,
  listPolicies,
  listWorks,
  saveBinding,
  type TemplateKey,
  type WorkRow,
} from "@atoll/store";
import type postgres from "postgres";

const policyRef = (doc: { kind: string; metadata: { namespace?: string; name: string } }) =>
  `${doc.kind}/${doc.metadata.namespace ? `${doc.metadata.namespace}/` : ""}${doc.metadata.name}`;

/** Clusters as the scheduler sees them: registry fields, heartbeat capacity, readiness taints. */
export async function clusterStates(sql: postgres.Sql, staleAfterSeconds: number): Promise<ClusterState[]> {
  const clusters = await listClusters(sql, staleAfterSeconds);
  return clusters.map((c) => {
    const status = c.status as {
      enabledApis?: string[];
      allocatable?: ClusterState["allocatable"];
      allocated?: ClusterState["allocated"];
      allocating?: ClusterState["allocating"];
    };
    const taints = [...((c.taints ?? []) as ClusterState["taints"] & object)];
    // A cluster not heard from within the grace period is tainted, as Karmada taints an unreachable one.
    if (!c.online) taints.push({ key: "cluster.atoll.dev/unreachable", effect: "NoExecute" });
    return {
      name: c.name,
      labels: c.labels,
      ...(c.provider ? { provider: c.provider } : {}),
      ...(c.region ? { region: c.region } : {}),
      ...(c.zone ? { zones: [c.zone] } : {}),
      taints,
      ...(status.enabledApis?.length ? { enabledApis: status.enabledApis } : {}),
      ...(status.allocatable ? { allocatable: status.allocatable } : {}),
      ...(status.allocated ? { allocated: status.allocated } : {}),
      ...(status.allocating ? { allocating: status.allocating } : {}),
    };
  });
}

/** Room left in a bus message for the work's name, cluster, generation and headers. */
const WORK_ENVELOPE_BYTES = 4096;

/** Bytes a cluster's manifests take in a work message. */
function workBytes(manifests: Record<string, unknown>[]): number {
  return manifests.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m)) + 8, 0);
}

/**
 * How long replicas just placed count against a cluster's capacity. Agents report capacity every
 * few seconds, and the pods must first be created; until then the scheduler assumes them.
 */
const ASSUMED_FOR_MS = 15_000;

/** Templates placed at once; each holds a database connection for a moment. */
const PARALLEL_PLACEMENTS = 6;

export interface PlacementContext {
  policies: Awaited<ReturnType<typeof listPolicies>>;
  clusters: ClusterState[];
}

export interface PlacementControllerOptions {
  sql: postgres.Sql;
  bus: Bus;
  logger: Logger;
  /** A cluster with no heartbeat for this long is unreachable, and its workloads move. */
  graceSeconds?: number;
}

/**
 * Turns placement requests into bindings and works: elects the policy, schedules, renders each
 * cluster's manifests with overrides and dependencies, stores it all, then publishes the works.
 */
export class PlacementController {
  /** Replicas placed lately on each cluster, which its heartbeats may not count yet. */
  private readonly assumed = new Map<string, { requests: Resources; replicas: number; until: number }[]>();

  constructor(private readonly options: PlacementControllerOptions) {}

  /** Policies and cluster states, read once for a batch of requests rather than per template. */
  async loadContext(): Promise<PlacementContext> {
    const { sql } = this.options;
    const [policies, clusters] = await Promise.all([
      listPolicies(sql),
      clusterStates(sql, this.options.graceSeconds ?? 30),
    ]);
    const now = Date.now();
    for (const [cluster, entries] of this.assumed) {
      const current = entries.filter((a) => a.until > now);
      if (current.length > 0) this.assumed.set(cluster, current);
      else this.assumed.delete(cluster);
    }
    const assumedClusters = clusters.map((cluster) =>
      (this.assumed.get(cluster.name) ?? []).reduce(
        (state, a) => assumeReplicas(state, a.requests, a.replicas),
        cluster,
      ),
    );
    return { policies, clusters: assumedClusters };
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
      const index = context.clusters.findIndex((c) => c.name === target.name);
      if (added <= 0 || index < 0) continue;
      context.clusters[index] = assumeReplicas(context.clusters[index]!, requests, added);
      const entries = this.assumed.get(target.name) ?? [];
      entries.push({ requests, replicas: added, until: Date.now() + ASSUMED_FOR_MS });
      this.assumed.set(target.name, entries);
    }
  }

  async place(key: TemplateKey, batchContext?: PlacementContext): Promise<void> {
    const { sql, logger } = this.options;
    const context = batchContext ?? (await this.loadContext());
    const { policies, clusters } = context;
    const template = await getTemplate(sql, key);
    const bindingNamespace = key.namespace;
    const name = bindingName({ kind: key.kind, metadata: { name: key.name } });
    if (!template) {
      await this.publish(bindingNamespace, name, await deleteBinding(sql, bindingNamespace, name), "Abort");
      return;
    }
    const doc = template.document as TemplateDoc;
    const propagation = policies
      .filter((p) => p.kind === "PropagationPolicy" || p.kind === "ClusterPropagationPolicy")
      .map((p) => p.document as unknown as PropagationPolicyDoc);
    const overrides = policies
      .filter((p) => p.kind === "OverridePolicy" || p.kind === "ClusterOverridePolicy")
      .map((p) => p.document as unknown as OverridePolicyDoc);
    // A claimed template keeps its policy unless a policy with preemption Always takes it;
    // otherwise the namespace's policies beat cluster-wide ones.
    const candidates = propagation
      .filter((p) => p.kind === "ClusterPropagationPolicy" || p.metadata.namespace === key.namespace)
      .map((p) => ({
        doc: p,
        name: p.metadata.name,
        priority: p.spec.priority ?? 0,
        resourceSelectors: p.spec.resourceSelectors,
        clusterWide: p.kind === "ClusterPropagationPolicy",
        ...(p.spec.preemption ? { preemption: p.spec.preemption } : {}),
      }));
    const elect = (list: PropagationPolicyDoc[]) =>
      electPolicy(
        doc as never,
        candidates.filter((c) => list.includes(c.doc)),
      )?.doc;
    const holder = candidates.find((c) => policyRef(c.doc) === template.claimedBy && elect([c.doc]));
    const claimed = holder && holderAfterPreemption(doc as never, holder, candidates).doc;
    const policy =
      claimed ??
      elect(
        propagation.filter((p) => p.kind === "PropagationPolicy" && p.metadata.namespace === key.namespace),
      ) ??
      elect(propagation.filter((p) => p.kind === "ClusterPropagationPolicy"));
    if (!policy) {
      // Nothing selects it (any more): it leaves every cluster.
      await this.publish(bindingNamespace, name, await deleteBinding(sql, bindingNamespace, name), "Abort");
      if (template.claimedBy) await claimTemplate(sql, key, "");
      return;
    }
    if (policyRef(policy) !== template.claimedBy) await claimTemplate(sql, key, policyRef(policy));
    const previous = await getBinding(sql, bindingNamespace, name);
    const base = {
      namespace: bindingNamespace,
      name,
      apiVersion: key.apiVersion,
      kind: key.kind,
      templateName: key.name,
      uid: template.uid,
      policy: policyRef(policy),
    };
    let decision: ReturnType<typeof scheduleBinding>;
    try {
      decision = scheduleBinding({
        template: doc,
        placement: policy.spec.placement ?? {},
        clusters,
        uid: template.uid,
        ...(previous
          ? {
              previous: {
                clusters: previous.clusters,
                ...(previous.observedAffinity ? { observedAffinityName: previous.observedAffinity } : {}),
              },
            }
          : {}),
      });
    } catch (error) {
      if (!(error instanceof PlacementError)) throw error;
      // No cluster fits: the workload leaves everywhere, as Karmada clears a binding's clusters.
      // Too little capacity keeps what runs and waits for the next change.
      const keep = error.code === "UNSCHEDULABLE" && previous;
      logger.warn({ binding: `${bindingNamespace}/${name}`, reason: error.message }, "could not schedule");
      await this.commit(
        {
          ...base,
          clusters: keep ? previous.clusters : [],
          observedAffinity: previous?.observedAffinity ?? "",
          rejected: previous?.rejected ?? {},
          condition: error.code === "UNSCHEDULABLE" ? "Unschedulable" : "NoClusterFit",
          message: error.message,
        },
        keep ? await this.renderAll(doc, previous.clusters, clusters, overrides, policy, name) : {},
        policy,
        previous,
      );
      return;
    }
    this.assume(context, doc, decision.clusters, previous?.clusters ?? []);
    const manifests = await this.renderAll(doc, decision.clusters, clusters, overrides, policy, name);
    await this.commit(
      {
        ...base,
        clusters: decision.clusters,
        observedAffinity: decision.observedAffinityName ?? "",
        rejected: decision.rejected,
        condition: "Success",
        message: `placed on ${decision.clusters.map((c) => (c.replicas === undefined ? c.name : `${c.name} (${c.replicas})`)).join(", ")}`,
      },
      manifests,
      policy,
      previous,
    );
  }

  /**
   * Saves a decision and publishes the works it changes. A cluster's work that would not fit
   * in one bus message is not sent at all: what runs stays as it is, and the binding says why.
   */
  private async commit(
    binding: Omit<BindingRow, "aggregatedStatus" | "scheduledAt" | "generation">,
    manifests: Record<string, Record<string, unknown>[]>,
    policy: PropagationPolicyDoc,
    previous: BindingRow | undefined,
  ): Promise<void> {
    const { sql, bus, logger } = this.options;
    const limit = bus.maxPayload() - WORK_ENVELOPE_BYTES;
    const oversized = Object.entries(manifests)
      .map(([cluster, list]) => ({ cluster, bytes: workBytes(list) }))
      .find(({ bytes }) => bytes > limit);
    let decision = binding;
    let works = manifests;
    if (oversized) {
      const message =
        `the work for cluster ${oversized.cluster} takes ${oversized.bytes} bytes, more than the ${limit} one ` +
        "NATS message may carry (the server's max_payload, less room for the envelope): make the template and " +
        "its dependencies smaller, or raise max_payload in the NATS server configuration";
      logger.warn({ binding: `${binding.namespace}/${binding.name}`, cluster: oversized.cluster }, message);
      const running = previous ? await listWorks(sql, binding.namespace, binding.name) : [];
      decision = {
        ...binding,
        clusters: previous?.clusters ?? [],
        observedAffinity: previous?.observedAffinity ?? "",
        rejected: previous?.rejected ?? {},
        condition: "WorkTooLarge",
        message,
      };
      works = Object.fromEntries(
        running.filter((w) => w.action === "apply").map((w) => [w.cluster, w.manifests]),
      );
    }
    const changed = await saveBinding(sql, decision, works);
    await this.publish(binding.namespace, binding.name, changed, policy.spec.conflictResolution ?? "Abort");
  }

  private async renderAll(
    template: TemplateDoc,
    targets: { name: string; replicas?: number }[],
    clusters: ClusterState[],
    overrides: OverridePolicyDoc[],
    policy: PropagationPolicyDoc,
    name: string,
  ): Promise<Record<string, Record<string, unknown>[]>> {
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
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const target of targets) {
      const cluster = clusters.find((c) => c.name === target.name) ?? { name: target.name };
      out[target.name] = workManifests({
        template,
        replicas: target.replicas,
        cluster,
        overridePolicies: overrides,
        dependencies: deps,
        binding: `${template.metadata.namespace ?? ""}.${name}`,
      }).manifests;
    }
    return out;
  }

  /**
   * Sends a cluster every work it should be running again. A restarted agent has forgotten what
   * it applied, so without them it would not keep their status current until each one changed.
   */
  async resendWorks(cluster: string, agentId: string): Promise<number> {
    const policies = await listPolicies(this.options.sql);
    const conflicts = new Map(
      policies.map((p) => {
        const doc = p.document as unknown as PropagationPolicyDoc;
        return [policyRef(doc), doc.spec?.conflictResolution ?? "Abort"] as const;
      }),
    );
    const works = await clusterWorks(this.options.sql, cluster);
    for (const work of works)
      await this.publish(
        work.namespace,
        work.name,
        [work],
        conflicts.get(work.policy) ?? "Abort",
        `resent-to-${agentId}`,
      );
    return works.length;
  }

  private async publish(
    namespace: string,
    name: string,
    works: WorkRow[],
    conflict: "Abort" | "Overwrite",
    occasion = "",
  ): Promise<void> {
    const { bus } = this.options;
    await Promise.all(
      works.map((work) =>
        bus.publish(
          bus.names.work(work.cluster),
          workCodec,
          create(WorkSchema, {
            cluster: work.cluster,
            name: `${namespace}/${name}`,
            generation: BigInt(work.generation),
            action: work.action === "apply" ? WorkAction.APPLY : WorkAction.DELETE,
            manifests: work.manifests.map((m) => new TextEncoder().encode(JSON.stringify(m))),
            conflictResolution:
              conflict === "Overwrite" ? ConflictResolution.OVERWRITE : ConflictResolution.ABORT,
          }),
          `${work.cluster}:${namespace}/${name}:${work.generation}${occasion ? `:${occasion}` : ""}`,
        ),
      ),
    );
  }

  /** Consumes placement requests in batches; a failure retries the whole batch, which is idempotent. */
  async start(): Promise<{ stop(): Promise<void> }> {
    const { bus, logger } = this.options;
    return await bus.consume({
      stream: bus.names.streams.placement,
      durable: "scheduler",
      filterSubject: bus.names.placement(),
      codec: placementCodec,
      maxBatch: 64,
      messageFault: dataErrorReason,
      validate: (r) =>
        r.kind && r.name && r.apiVersion
          ? undefined
          : "a placement request names a template's apiVersion, kind and name",
      handler: async (deliveries: Delivery<PlacementRequest>[]) => {
        const context = await this.loadContext();
        // Each template once per batch; different templates are independent, so a few at a time.
        const keys = new Map<string, TemplateKey>();
        for (const { data } of deliveries)
          keys.set(JSON.stringify([data.apiVersion, data.kind, data.namespace, data.name]), {
            apiVersion: data.apiVersion,
            kind: data.kind,
            namespace: data.namespace,
            name: data.name,
          });
        const queue = [...keys.values()];
        const worker = async () => {
          for (let key = queue.shift(); key; key = queue.shift()) {
            await this.place(key, context);
            logger.debug({ template: `${key.kind} ${key.namespace}/${key.name}` }, "placed");
          }
        };
        await Promise.all(Array.from({ length: PARALLEL_PLACEMENTS }, worker));
      },
    });
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

import type { Bus } from "@atoll/bus";
import { PlacementReason } from "@atoll/contracts";
import type { Logger } from "@atoll/log";
import {
  type ClusterTaintPolicyDoc,
  type EvictionTask,
  evictionsDue,
  type FleetDisruption,
  type PropagationPolicyDoc,
  type Taint,
  taintsUnderPolicies,
} from "@atoll/placement";
import {
  addEvictionTask,
  bindingsEvicting,
  bindingsTouching,
  listClusterRegistry,
  listPolicies,
  listTemplateKeys,
  replaceClusterTaints,
} from "@atoll/store";
import type postgres from "postgres";
import { requestPlacement } from "./apply.js";
import { type FleetHealth, fleetView } from "./fleet.js";
import { type PlacementController, policyRef, restartedAgents } from "./scheduler.js";

export interface FleetMonitorOptions {
  sql: postgres.Sql;
  bus: Bus;
  logger: Logger;
  fleet: FleetHealth;
  controller: PlacementController;
  /** A cluster silent this long is unreachable (Ready=Unknown). */
  graceSeconds: number;
  /** Karmada's --enable-no-execute-taint-eviction: off unless the operator opts in. */
  evictOnNoExecute: boolean;
  /** Karmada's --resource-eviction-rate: evictions started per second at most. */
  evictionsPerSecond: number;
}

/**
 * The scheduler's watch over the fleet, run every few seconds: ClusterTaintPolicies, agent
 * restarts, re-placement when clusters change, and (only when the operator opted in, and never
 * while the hub doubts its own view) eviction of workloads from clusters with NoExecute taints.
 */
export class FleetMonitor {
  private fingerprint = "";
  private readonly agents = new Map<string, string>();
  private current: FleetDisruption = { disrupted: false, silent: [], total: 0, message: "" };
  private tokens = 1;
  private refilledAt = Date.now();

  constructor(private readonly options: FleetMonitorOptions) {}

  /**
   * Checks the fleet every intervalMs (taint policies, agent restarts, re-placement when clusters
   * change, evictions), one check at a time; a failed check is logged and the next one runs.
   */
  every(intervalMs: number): { stop(): void } {
    let checking = false;
    const timer = setInterval(async () => {
      if (checking) return;
      checking = true;
      try {
        await this.check();
      } catch (error) {
        this.options.logger.warn({ err: (error as Error).message }, "could not check clusters");
      } finally {
        checking = false;
      }
    }, intervalMs);
    return { stop: () => clearInterval(timer) };
  }

  /** Whether the hub currently assumes a fault of its own, and why. */
  get disruption(): FleetDisruption {
    return this.current;
  }

  async check(): Promise<void> {
    const { sql, fleet, logger } = this.options;
    const now = new Date();
    const graceMs = this.options.graceSeconds * 1000;
    const [registry, policies] = await Promise.all([listClusterRegistry(sql), listPolicies(sql)]);
    const taintPolicies = policies
      .filter((p) => p.kind === "ClusterTaintPolicy")
      .map((p) => p.document as unknown as ClusterTaintPolicyDoc);
    const before = fleetView(registry, fleet, now.getTime(), graceMs);
    for (const [index, row] of registry.entries()) {
      const cluster = before.clusters[index]!;
      const taints = taintsUnderPolicies(
        { ...cluster, taints: row.taints as Taint[] },
        [before.readiness.get(row.name)!],
        taintPolicies,
        now,
      );
      if (JSON.stringify(taints) === JSON.stringify(row.taints)) continue;
      if (await replaceClusterTaints(sql, row.name, row.taints, taints)) {
        logger.info({ cluster: row.name, taints }, "ClusterTaintPolicy changed the cluster's taints");
        row.taints = taints;
      }
    }
    const view = fleetView(registry, fleet, now.getTime(), graceMs);
    if (view.disruption.disrupted !== this.current.disrupted) {
      if (view.disruption.disrupted)
        logger.warn(
          { silent: view.disruption.silent, total: view.disruption.total },
          view.disruption.message,
        );
      else logger.info("clusters report again; the hub trusts its view of the fleet");
    }
    this.current = view.disruption;

    const heard = registry.map((r) => ({
      name: r.name,
      status: { agentId: fleet.statusOf(r.name)?.agentId },
    }));
    for (const { cluster, agentId } of restartedAgents(this.agents, heard)) {
      const resent = await this.options.controller.resendWorks(cluster, agentId);
      this.agents.set(cluster, agentId);
      logger.info({ cluster, agentId, works: resent }, "agent restarted; sent it its works again");
    }

    const fingerprint = JSON.stringify(
      view.clusters.map((c) => [
        c.name,
        view.readiness.get(c.name)?.status,
        c.labels,
        c.taints,
        c.region,
        c.zones,
        c.provider,
      ]),
    );
    if (fingerprint !== this.fingerprint) {
      const first = this.fingerprint === "";
      this.fingerprint = fingerprint;
      if (!first) {
        logger.info(
          {
            ready: view.clusters
              .filter((c) => view.readiness.get(c.name)?.status === "True")
              .map((c) => c.name),
          },
          "clusters changed; placing again",
        );
        for (const key of await listTemplateKeys(sql))
          await requestPlacement(this.options.bus, key, PlacementReason.CLUSTER_CHANGED);
      }
    }

    if (this.options.evictOnNoExecute && !view.disruption.disrupted) {
      // A cluster that just went silent is not evicted from for one more grace period: a fault of
      // the hub's own silences clusters a heartbeat or two apart, and by then the fleet check above
      // has seen them all and halted evictions.
      const settling = (name: string) =>
        view.readiness.get(name)?.status === "Unknown" &&
        now.getTime() - (fleet.lastHeardMs(name) ?? 0) < 2 * graceMs;
      await this.evict(
        view.clusters.filter((c) => !settling(c.name)),
        policies.filter((p) => p.kind.endsWith("PropagationPolicy")).map((p) => p.document as never),
        now,
      );
    }
    // Bindings leaving a cluster are placed again until their eviction tasks end.
    for (const binding of await bindingsEvicting(sql))
      await requestPlacement(
        this.options.bus,
        {
          apiVersion: binding.apiVersion,
          kind: binding.kind,
          namespace: binding.namespace,
          name: binding.templateName,
        },
        PlacementReason.CLUSTER_CHANGED,
      );
  }

  /** Karmada's taint manager: starts evictions that are due, at the configured rate. */
  private async evict(
    clusters: { name: string; taints?: Taint[] }[],
    propagationPolicies: PropagationPolicyDoc[],
    now: Date,
  ): Promise<void> {
    const { sql, bus, logger } = this.options;
    const tainted = clusters
      .filter((c) => c.taints?.some((t) => t.effect === "NoExecute"))
      .map((c) => c.name);
    if (tainted.length === 0) return;
    const byRef = new Map(propagationPolicies.map((p) => [policyRef(p), p]));
    for (const binding of await bindingsTouching(sql, tainted)) {
      // A binding without a policy keeps what it has: nothing tells how it tolerates taints.
      const policy = byRef.get(binding.policy);
      if (!policy) continue;
      const { due } = evictionsDue(
        binding.clusters.map((c) => c.name),
        clusters,
        policy.spec.placement?.clusterTolerations ?? [],
        now,
      );
      const tasks = binding.evictionTasks as unknown as EvictionTask[];
      for (const cluster of due) {
        if (tasks.some((t) => t.fromCluster === cluster)) continue;
        if (!this.takeToken()) return;
        const replicas = binding.clusters.find((c) => c.name === cluster)?.replicas;
        const task: EvictionTask = {
          fromCluster: cluster,
          purgeMode: policy.spec.failover?.cluster?.purgeMode ?? "Gracefully",
          ...(replicas !== undefined ? { replicas } : {}),
          reason: "TaintUntolerated",
          message: `cluster ${cluster} has a NoExecute taint the policy ${binding.policy} does not tolerate`,
          createdAt: now.toISOString(),
        };
        if (!(await addEvictionTask(sql, binding.namespace, binding.name, task as never))) continue;
        logger.warn(
          { binding: `${binding.namespace}/${binding.name}`, cluster, purgeMode: task.purgeMode },
          "evicting the workload from a cluster with an untolerated NoExecute taint",
        );
        await requestPlacement(
          bus,
          {
            apiVersion: binding.apiVersion,
            kind: binding.kind,
            namespace: binding.namespace,
            name: binding.templateName,
          },
          PlacementReason.CLUSTER_CHANGED,
        );
      }
    }
  }

  /** One eviction's worth of the rate, refilled continuously up to a burst of one second. */
  private takeToken(): boolean {
    const now = Date.now();
    const rate = this.options.evictionsPerSecond;
    this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

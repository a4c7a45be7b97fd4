import { createHash } from "node:crypto";
import type { Bus } from "@atoll/bus";
import { workKey } from "@atoll/config";
// The responder alone: the gateway's hub side (grants, audit) has no place in a member cluster.
import { ProxyResponder } from "@atoll/gateway/responder";
import { KubeClient } from "@atoll/kube";
import type { Logger } from "@atoll/log";
import { WorkApplier } from "./applier.js";
import { ClusterSync } from "./cluster-sync.js";
import { rulesFromJson } from "./rules.js";

export interface PushClusterSpec {
  name: string;
  kubeconfig: string;
  kubeContext: string;
  syncRules: unknown[];
}

export interface PushFleetOptions {
  bus: Bus;
  logger: Logger;
  agentVersion: string;
  /** Reads the registered push clusters with their kubeconfigs opened. */
  load: () => Promise<PushClusterSpec[]>;
  intervalMs?: number;
  heartbeatIntervalMs?: number;
  /** The hub's key, from which each cluster's work key comes (for its works' sealed Secrets). */
  hubKey?: Buffer;
}

const fingerprint = (spec: PushClusterSpec) =>
  createHash("sha256")
    .update(JSON.stringify([spec.kubeconfig, spec.kubeContext, spec.syncRules]))
    .digest("hex");

/**
 * Push mode at the hub: one ClusterSync per registered push cluster, kept in line with the
 * registry. New clusters start, deleted ones stop, changed credentials or rules restart.
 */
export class PushFleet {
  private readonly running = new Map<
    string,
    { sync: ClusterSync; applier: { stop(): Promise<void> }; responder: ProxyResponder; fingerprint: string }
  >();
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();

  constructor(private readonly options: PushFleetOptions) {}

  get clusters(): string[] {
    return [...this.running.keys()].sort();
  }

  async start(): Promise<void> {
    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.options.intervalMs ?? 5000);
  }

  reconcile(): Promise<void> {
    this.reconciling = this.reconciling
      .then(() => this.reconcileOnce())
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, "could not reconcile push clusters; retrying");
      });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const desired = new Map((await this.options.load()).map((spec) => [spec.name, spec]));
    for (const [name, entry] of this.running) {
      const spec = desired.get(name);
      if (spec && fingerprint(spec) === entry.fingerprint) continue;
      this.options.logger.info({ cluster: name, reason: spec ? "changed" : "removed" }, "stopping push sync");
      this.running.delete(name);
      await entry.responder.stop();
      await entry.applier.stop();
      await entry.sync.stop();
    }
    for (const [name, spec] of desired) {
      if (this.running.has(name)) continue;
      const logger = this.options.logger.child({ cluster: name });
      try {
        const client = KubeClient.fromKubeconfig(spec.kubeconfig, spec.kubeContext || undefined);
        const sync = new ClusterSync({
          cluster: name,
          client,
          bus: this.options.bus,
          logger,
          mode: "push",
          agentVersion: this.options.agentVersion,
          rules: rulesFromJson(spec.syncRules),
          ...(this.options.heartbeatIntervalMs
            ? { heartbeatIntervalMs: this.options.heartbeatIntervalMs }
            : {}),
        });
        await sync.start();
        // Placement's works for a push cluster are applied from here too: the hub holds its credentials.
        const { hubKey } = this.options;
        const applier = await new WorkApplier({
          cluster: name,
          client,
          bus: this.options.bus,
          logger,
          shared: sync,
          ...(hubKey ? { workKey: workKey(hubKey, name) } : {}),
        })
          .start()
          .catch(async (error: unknown) => {
            await sync.stop();
            throw error;
          });
        // A query service without the secret key reaches push clusters through here as well.
        const responder = new ProxyResponder({
          bus: this.options.bus,
          cluster: name,
          client,
          logger,
        }).start();
        this.running.set(name, { sync, applier, responder, fingerprint: fingerprint(spec) });
        logger.info("push sync, work delivery and gateway responder started");
      } catch (error) {
        // One unreachable cluster must not hold up the others; the next pass tries again.
        logger.warn({ err: (error as Error).message }, "could not start push sync; will retry");
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reconciling;
    await Promise.all(
      [...this.running.values()].map(async ({ sync, applier, responder }) => {
        await responder.stop();
        await applier.stop();
        await sync.stop();
      }),
    );
    this.running.clear();
  }
}

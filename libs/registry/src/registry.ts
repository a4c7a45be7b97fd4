import type { Bus } from "@atoll/bus";
import { createNkeyUser } from "@atoll/bus";
import { sealSecret, workKey } from "@atoll/config";
import { KubeClient } from "@atoll/kube";
import { type ClusterUpdate, deleteCluster, registerCluster, updateCluster } from "@atoll/store";
import { parseSyncRules, rulesToJson } from "@atoll/sync/rules";
import type postgres from "postgres";
import { agentManifest } from "./manifest.js";

export class RegistrationError extends Error {
  readonly code = "INVALID_REGISTRATION";
}

export interface ClusterPlacementFields {
  labels?: Record<string, string>;
  provider?: string;
  region?: string;
  zone?: string;
  taints?: unknown[];
  /** Sync rules as YAML (the same format as the agent's rules file). */
  syncRules?: string;
  /** The gateway acts as the Atoll user (Kubernetes impersonation); true unless switched off. */
  gatewayImpersonate?: boolean;
  /** The gateway refuses writes to this cluster. */
  gatewayReadOnly?: boolean;
}

export interface RegistryOptions {
  sql: postgres.Sql;
  bus: Bus;
  /** Key that seals push-mode kubeconfigs; undefined refuses push registrations. */
  secretKey?: Buffer;
  /** The NATS URL pull-mode agents should dial, as seen from member clusters. */
  agentNatsUrl: string;
  agentImage: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkName(name: string): string {
  if (!DNS_LABEL.test(name)) {
    throw new RegistrationError(
      `cluster name "${name}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters`,
    );
  }
  return name;
}

/** A context name as a cluster name: "kind-prod_eu" becomes "kind-prod-eu". */
export function clusterNameFromContext(context: string): string {
  return context
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

/** Registry operations behind the HTTP API and the CLI. */
export class ClusterRegistry {
  constructor(private readonly options: RegistryOptions) {}

  /** The registry columns shared by both modes, rules parsed and validated. */
  private fields(input: ClusterPlacementFields): ClusterUpdate {
    const { labels, provider, region, zone, taints, syncRules, gatewayImpersonate, gatewayReadOnly } = input;
    const rules = syncRules === undefined ? undefined : rulesToJson(parseSyncRules(syncRules));
    return Object.fromEntries(
      Object.entries({
        labels,
        provider,
        region,
        zone,
        taints,
        syncRules: rules,
        gatewayImpersonate,
        gatewayReadOnly,
      }).filter(([, v]) => v !== undefined),
    ) as ClusterUpdate;
  }

  /**
   * Push mode: registers the kubeconfig's context (or, with no name and no context, every
   * context, each under its own name). The kubeconfig is stored sealed.
   */
  async registerPush(
    input: ClusterPlacementFields & { name?: string; kubeconfig: string; context?: string },
  ): Promise<string[]> {
    if (!this.options.secretKey) {
      throw new RegistrationError(
        "push registration needs the hub to have ATOLL_SECRET_KEY set, to seal the kubeconfig",
      );
    }
    let clients: KubeClient[];
    try {
      clients =
        input.context || input.name
          ? [KubeClient.fromKubeconfig(input.kubeconfig, input.context)]
          : KubeClient.allFromKubeconfig(input.kubeconfig);
    } catch (error) {
      throw new RegistrationError(`the kubeconfig cannot be used: ${(error as Error).message}`);
    }
    if (clients.length === 0) throw new RegistrationError("the kubeconfig has no contexts");
    const fields = this.fields(input);
    const sealed = sealSecret(this.options.secretKey, input.kubeconfig);
    const names: string[] = [];
    for (const client of clients) {
      const name = checkName(input.name ?? clusterNameFromContext(client.contextName));
      await registerCluster(this.options.sql, {
        ...fields,
        name,
        syncMode: "push",
        kubeconfigSealed: sealed,
        kubeContext: client.contextName,
      });
      names.push(name);
    }
    return names;
  }

  /**
   * Pull mode: makes the agent's identity. The seed is returned once, inside the credentials and
   * the manifest; the hub keeps only the public key.
   */
  async registerPull(
    input: ClusterPlacementFields & { name: string },
  ): Promise<{ name: string; nkey: string; credentials: string; workKey?: string; manifest: string }> {
    const name = checkName(input.name);
    const fields = this.fields(input);
    const pair = createNkeyUser();
    const credentials = new TextDecoder().decode(pair.getSeed());
    await registerCluster(this.options.sql, { ...fields, name, syncMode: "pull", nkey: pair.getPublicKey() });
    const { bus } = this.options;
    await bus.ensureWorkConsumer(name);
    // Without a hub key nothing is sealed, and the agent needs no key to open it.
    const clusterKey = this.options.secretKey && workKey(this.options.secretKey, name).toString("base64");
    return {
      name,
      nkey: pair.getPublicKey(),
      credentials,
      ...(clusterKey ? { workKey: clusterKey } : {}),
      manifest: agentManifest({
        cluster: name,
        natsUrl: this.options.agentNatsUrl,
        credentials,
        ...(bus.names.prefix ? { busPrefix: bus.names.prefix } : {}),
        ...(clusterKey ? { workKey: clusterKey } : {}),
        image: this.options.agentImage,
      }),
    };
  }

  async update(name: string, fields: ClusterPlacementFields): Promise<void> {
    await updateCluster(this.options.sql, name, this.fields(fields));
  }

  /** Stops sync (the push fleet drops it; events still in flight are discarded) and purges rows. */
  async delete(name: string): Promise<{ purged: number }> {
    const result = await deleteCluster(this.options.sql, name);
    const { bus } = this.options;
    const kv = await bus.clusters();
    await kv.purge(name).catch(() => undefined);
    await bus.jsm.consumers.delete(bus.names.streams.work, bus.names.workConsumer(name)).catch(() => false);
    return result;
  }
}

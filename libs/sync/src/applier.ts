import type { Bus } from "@atoll/bus";
import {
  ConflictResolution,
  create,
  ManifestState,
  ManifestStatusSchema,
  type Work,
  WorkAction,
  WorkStatusSchema,
  workCodec,
  workStatusCodec,
} from "@atoll/contracts";
import { discoverResourceTypes, KubeApiError, type KubeClient, type ResourceType } from "@atoll/kube";
import type { Logger } from "@atoll/log";

/** The label every object Atoll places carries; objects without it are not ours to change. */
const MANAGED_BY = "atoll.dev/managed-by";
const FIELD_MANAGER = "atoll";

// biome-ignore lint/suspicious/noExplicitAny: manifests are any Kubernetes object
type Manifest = Record<string, any>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How a status report names a manifest. */
const identityOf = (manifest: Manifest) => ({
  apiVersion: manifest.apiVersion,
  kind: manifest.kind,
  namespace: manifest.metadata?.namespace ?? "",
  name: manifest.metadata?.name ?? "",
});

/** Whether a workload is up: its ready replicas reach the desired count; other kinds once applied. */
export function isHealthy(object: Manifest): boolean {
  const status = object.status ?? {};
  switch (object.kind) {
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      return (status.readyReplicas ?? 0) >= (object.spec?.replicas ?? 1);
    case "DaemonSet":
      return (status.numberReady ?? 0) >= (status.desiredNumberScheduled ?? 0);
    case "Job":
      return !(status.conditions ?? []).some((c: Manifest) => c.type === "Failed" && c.status === "True");
    default:
      return true;
  }
}

export interface WorkApplierOptions {
  cluster: string;
  client: KubeClient;
  bus: Bus;
  logger: Logger;
  /** Pull mode: the hub made the work consumer; this identity may only pull from it. */
  existingConsumer?: boolean;
}

/**
 * Applies the works the scheduler sends this cluster, in order: server-side apply as field
 * manager "atoll" for apply, delete for withdraw, then a status report with each object's state.
 * Works stay on the stream for days, so an agent that was away catches up when it returns.
 */
export class WorkApplier {
  private types: ResourceType[] = [];
  /** Latest generation handled per work, so a redelivered older work changes nothing. */
  private readonly generations = new Map<string, bigint>();

  constructor(private readonly options: WorkApplierOptions) {}

  async start(): Promise<{ stop(): Promise<void> }> {
    const { bus, cluster } = this.options;
    return await bus.consume({
      stream: bus.names.streams.work,
      durable: bus.names.workConsumer(cluster),
      filterSubject: bus.names.work(cluster),
      codec: workCodec,
      maxBatch: 8,
      ...(this.options.existingConsumer ? { existingConsumer: true } : {}),
      validate: (work) =>
        work.cluster !== cluster
          ? `a work for cluster ${work.cluster} arrived for ${cluster}`
          : work.action === WorkAction.UNSPECIFIED
            ? "a work says neither apply nor delete"
            : undefined,
      handler: async (deliveries) => {
        for (const { data } of deliveries) await this.handle(data);
      },
    });
  }

  private async typeOf(manifest: Manifest): Promise<ResourceType> {
    const find = () =>
      this.types.find(
        (t) =>
          (t.group ? `${t.group}/${t.version}` : t.version) === manifest.apiVersion &&
          t.kind === manifest.kind,
      );
    if (!find()) this.types = await discoverResourceTypes(this.options.client);
    const type = find();
    if (!type) throw new Error(`the cluster does not serve ${manifest.apiVersion} ${manifest.kind}`);
    return type;
  }

  private async pathOf(manifest: Manifest): Promise<string> {
    const type = await this.typeOf(manifest);
    const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    const namespace = type.namespaced
      ? `/namespaces/${encodeURIComponent(manifest.metadata?.namespace ?? "default")}`
      : "";
    return `${root}${namespace}/${type.resource}/${encodeURIComponent(manifest.metadata.name)}`;
  }

  /** The object at a path as the member cluster has it, or undefined when there is none. */
  private async current(path: string): Promise<Manifest | undefined> {
    return await this.options.client.json<Manifest>({ path }).catch((error) => {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    });
  }

  private async applyOne(manifest: Manifest, conflict: ConflictResolution) {
    const base = identityOf(manifest);
    try {
      const path = await this.pathOf(manifest);
      if (conflict !== ConflictResolution.OVERWRITE) {
        const existing = await this.current(path);
        if (existing && existing.metadata?.labels?.[MANAGED_BY] !== "atoll")
          return create(ManifestStatusSchema, {
            ...base,
            state: ManifestState.CONFLICT,
            message: `${manifest.kind} ${base.name} already exists and is not managed by Atoll; set conflictResolution: Overwrite to take it over`,
          });
      }
      const applied = await this.options.client.json<Manifest>({
        method: "PATCH",
        path: `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
        headers: { "content-type": "application/apply-patch+yaml" },
        body: JSON.stringify(manifest),
      });
      return create(ManifestStatusSchema, {
        ...base,
        state: ManifestState.APPLIED,
        healthy: isHealthy(applied),
        ...(applied.status ? { status: encoder.encode(JSON.stringify(applied.status)) } : {}),
      });
    } catch (error) {
      return create(ManifestStatusSchema, {
        ...base,
        state: ManifestState.FAILED,
        message: (error as Error).message,
      });
    }
  }

  private async deleteOne(manifest: Manifest) {
    const base = identityOf(manifest);
    try {
      const path = await this.pathOf(manifest);
      const existing = await this.current(path);
      // Only what Atoll placed is withdrawn; an object someone else owns stays.
      if (existing?.metadata?.labels?.[MANAGED_BY] === "atoll")
        await this.options.client.json({ method: "DELETE", path });
      return create(ManifestStatusSchema, { ...base, state: ManifestState.DELETED });
    } catch (error) {
      return create(ManifestStatusSchema, {
        ...base,
        state: ManifestState.FAILED,
        message: (error as Error).message,
      });
    }
  }

  private async handle(work: Work): Promise<void> {
    const { bus, cluster, logger } = this.options;
    const seen = this.generations.get(work.name);
    if (seen !== undefined && seen >= work.generation) return;
    const manifests = work.manifests.map((bytes) => JSON.parse(decoder.decode(bytes)) as Manifest);
    const statuses = [];
    for (const manifest of work.action === WorkAction.DELETE ? [...manifests].reverse() : manifests)
      statuses.push(
        work.action === WorkAction.DELETE
          ? await this.deleteOne(manifest)
          : await this.applyOne(manifest, work.conflictResolution),
      );
    this.generations.set(work.name, work.generation);
    const failed = statuses.filter(
      (s) => s.state === ManifestState.FAILED || s.state === ManifestState.CONFLICT,
    );
    logger.info(
      {
        work: work.name,
        generation: Number(work.generation),
        action: WorkAction[work.action],
        failed: failed.length,
      },
      failed.length ? "work applied with failures" : "work applied",
    );
    await bus.publish(
      bus.names.workStatus(cluster),
      workStatusCodec,
      create(WorkStatusSchema, {
        cluster,
        workName: work.name,
        generation: work.generation,
        manifests: statuses,
        reportedAtMs: BigInt(Date.now()),
      }),
      `${cluster}:${work.name}:${work.generation}:status`,
    );
  }
}

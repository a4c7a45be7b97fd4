import { randomUUID } from "node:crypto";
import { type Bus, WORK_MAX_BATCH } from "@atoll/bus";
import { hasSealedValues, openSecretValues } from "@atoll/config";
import {
  ConflictResolution,
  create,
  ManifestState,
  type ManifestStatus,
  ManifestStatusSchema,
  type Work,
  WorkAction,
  WorkStatusSchema,
  workCodec,
  workStatusCodec,
} from "@atoll/contracts";
import type { JsonObject } from "@atoll/kube";
import {
  apiVersionOf,
  discoverResourceTypes,
  gvrKey,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  Reflector,
  type ReflectorEvent,
  type ResourceType,
} from "@atoll/kube";
import type { Logger } from "@atoll/log";

/** The label every object Atoll places carries; objects without it are not ours to change. */
const MANAGED_BY = "atoll.dev/managed-by";
const FIELD_MANAGER = "atoll";
/** On a namespace the agent created for a work; Atoll never deletes namespaces. */
const CREATED_BY = "atoll.dev/created-by";

/** The namespace an API error says is missing, if that is what it says. */
function missingNamespace(error: unknown): string | undefined {
  if (!(error instanceof KubeApiError) || error.status !== 404) return undefined;
  return /namespaces "([^"]+)" not found/.exec(error.message)?.[1];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How a status report names a manifest. */
const identityOf = (manifest: JsonObject) => ({
  apiVersion: manifest.apiVersion,
  kind: manifest.kind,
  namespace: manifest.metadata?.namespace ?? "",
  name: manifest.metadata?.name ?? "",
});

/** How a manifest stands once applied: the member object's health and status as it is now. */
const appliedStatus = (manifest: JsonObject, member: JsonObject) =>
  create(ManifestStatusSchema, {
    ...identityOf(manifest),
    state: ManifestState.APPLIED,
    healthy: isHealthy(member),
    ...(member.status ? { status: encoder.encode(JSON.stringify(member.status)) } : {}),
  });

/** Whether Atoll placed an object: what the applier's own watch selects by label. */
const placedByAtoll = (object: KubeObject | undefined) =>
  (object?.metadata.labels as Record<string, string> | undefined)?.[MANAGED_BY] === "atoll";

/** Where an object lives in the member cluster: the key watch events are matched by. */
const objectKey = (apiVersion: string, kind: string, namespace: string, name: string) =>
  `${apiVersion}/${kind}/${namespace}/${name}`;

/** Member-object changes are gathered this long, so a rollout's burst of updates is one report. */
const REPORT_DELAY_MS = 250;
const REPORT_RETRY_MS = 2_000;

/** An apply work the agent answers for: its manifests and their statuses as last reported. */
interface PlacedWork {
  generation: bigint;
  conflict: ConflictResolution;
  manifests: JsonObject[];
  statuses: ManifestStatus[];
  /** Object keys of the manifests, in order; empty where the manifest was not applied. */
  keys: string[];
}

const sameStatus = (a: ManifestStatus, b: ManifestStatus) =>
  a.state === b.state &&
  a.healthy === b.healthy &&
  a.message === b.message &&
  Buffer.compare(Buffer.from(a.status), Buffer.from(b.status)) === 0;

/** Whether a workload is up: its ready replicas reach the desired count; other kinds once applied. */
export function isHealthy(object: JsonObject): boolean {
  const status = object.status ?? {};
  switch (object.kind) {
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      return (status.readyReplicas ?? 0) >= (object.spec?.replicas ?? 1);
    case "DaemonSet":
      return (status.numberReady ?? 0) >= (status.desiredNumberScheduled ?? 0);
    case "Job":
      return !(status.conditions ?? []).some((c: JsonObject) => c.type === "Failed" && c.status === "True");
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
  /** This cluster's work key, which opens the Secret values the scheduler sealed for it. */
  workKey?: Buffer;
  /** The watches the cluster's sync already runs (ClusterSync.follow), shared instead of opened twice. */
  shared?: SharedWatches;
}

/** Events of a type that another part already watches on the same cluster, as a shared informer gives them. */
export interface SharedWatches {
  follow(type: ResourceType, listener: (event: ReflectorEvent) => void): (() => void) | undefined;
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
  /** Apply works by name, kept current by watching what they placed. */
  private readonly placed = new Map<string, PlacedWork>();
  /** Which work placed the object at a key, and where in its manifests. */
  private readonly placedObjects = new Map<string, { work: string; index: number }>();
  /** Object keys by uid, for deletions that arrive with the uid alone. */
  private readonly keysByUid = new Map<string, string>();
  /**
   * What the applier hears per resource type its works use: the sync's watch when it has one on
   * every object of the type, else a watch of its own on the objects labelled as Atoll's.
   */
  private readonly watches = new Map<string, { stop(): Promise<void> | void }>();
  /** Events heard from a shared watch, handled one at a time in order, off the sync's path. */
  private observing: Promise<void> = Promise.resolve();
  private readonly changedWorks = new Set<string>();
  private reportTimer: NodeJS.Timeout | undefined;
  /** Makes each follow-up report's message id unique, across restarts too. */
  private readonly run = randomUUID().slice(0, 8);
  private reports = 0;
  private stopped = false;

  constructor(private readonly options: WorkApplierOptions) {}

  /**
   * Applies works as they come, then keeps their status current: a member object's status or
   * health that changes later (a rollout finishing, pods failing) is reported again, and an
   * object deleted behind Atoll's back is applied again, as Karmada's work controller does.
   */
  async start(): Promise<{ stop(): Promise<void> }> {
    const consumption = await this.consumeWorks();
    return {
      stop: async () => {
        this.stopped = true;
        await consumption.stop();
        clearTimeout(this.reportTimer);
        await Promise.all([...this.watches.values()].map((watch) => watch.stop()));
        await this.observing;
      },
    };
  }

  private async consumeWorks() {
    const { bus, cluster } = this.options;
    return await bus.consume({
      stream: bus.names.streams.work,
      durable: bus.names.workConsumer(cluster),
      filterSubject: bus.names.work(cluster),
      codec: workCodec,
      maxBatch: WORK_MAX_BATCH,
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

  private async typeOf(manifest: JsonObject): Promise<ResourceType> {
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

  private async pathOf(manifest: JsonObject): Promise<string> {
    const type = await this.typeOf(manifest);
    const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    const namespace = type.namespaced
      ? `/namespaces/${encodeURIComponent(manifest.metadata?.namespace ?? "default")}`
      : "";
    return `${root}${namespace}/${type.resource}/${encodeURIComponent(manifest.metadata.name)}`;
  }

  /** The object at a path as the member cluster has it, or undefined when there is none. */
  private async current(path: string): Promise<JsonObject | undefined> {
    return await this.options.client.json<JsonObject>({ path }).catch((error) => {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    });
  }

  private async applyOne(sealed: JsonObject, conflict: ConflictResolution) {
    const base = identityOf(sealed);
    try {
      const manifest = this.opened(sealed);
      const path = await this.pathOf(manifest);
      // Heard before it is applied, so no change to the object between the two goes unseen.
      this.watch(await this.typeOf(manifest));
      if (conflict !== ConflictResolution.OVERWRITE) {
        const existing = await this.current(path);
        if (existing && existing.metadata?.labels?.[MANAGED_BY] !== "atoll")
          return create(ManifestStatusSchema, {
            ...base,
            state: ManifestState.CONFLICT,
            message: `${manifest.kind} ${base.name} already exists and is not managed by Atoll; set conflictResolution: Overwrite to take it over`,
          });
      }
      const apply = () =>
        this.options.client.json<JsonObject>({
          method: "PATCH",
          path: `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
          headers: { "content-type": "application/apply-patch+yaml" },
          body: JSON.stringify(manifest),
        });
      const applied = await apply().catch(async (error: unknown) => {
        // Karmada creates a template's namespace in every member cluster; so does the agent, on demand.
        const missing = missingNamespace(error);
        if (!missing) throw error;
        await this.createNamespace(missing);
        return await apply();
      });
      return appliedStatus(manifest, applied);
    } catch (error) {
      return create(ManifestStatusSchema, {
        ...base,
        state: ManifestState.FAILED,
        message: (error as Error).message,
      });
    }
  }

  /** Creates a namespace a work needs, marked as created by Atoll; one that appeared meanwhile is fine. */
  private async createNamespace(name: string): Promise<void> {
    this.options.logger.info({ namespace: name }, "creating the namespace a work needs");
    await this.options.client.json({
      method: "PATCH",
      path: `/api/v1/namespaces/${encodeURIComponent(name)}?fieldManager=${FIELD_MANAGER}`,
      headers: { "content-type": "application/apply-patch+yaml" },
      body: JSON.stringify({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { [CREATED_BY]: "atoll" } },
      }),
    });
  }

  private async deleteOne(manifest: JsonObject, preserve: boolean) {
    const base = identityOf(manifest);
    // The template was deleted with preserveResourcesOnDeletion: the work ends, the object stays.
    if (preserve) return create(ManifestStatusSchema, { ...base, state: ManifestState.DELETED });
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

  /** A manifest with its Secret values opened, which the hub sealed for this cluster alone. */
  private opened(manifest: JsonObject): JsonObject {
    if (!hasSealedValues(manifest)) return manifest;
    const { workKey } = this.options;
    if (!workKey)
      throw new Error(
        "its values are sealed for this cluster and the agent has no work key; set ATOLL_WORK_KEY from the cluster's registration bundle",
      );
    try {
      return openSecretValues(workKey, manifest);
    } catch {
      throw new Error(
        "its values are sealed with another key than this agent's ATOLL_WORK_KEY; use the key from this cluster's registration bundle",
      );
    }
  }

  private async handle(work: Work): Promise<void> {
    const { bus, cluster, logger } = this.options;
    const seen = this.generations.get(work.name);
    if (seen !== undefined && seen >= work.generation) return;
    const manifests = work.manifests.map((bytes) => JSON.parse(decoder.decode(bytes)) as JsonObject);
    // Forgotten first, so that deleting what the work placed is not taken for drift.
    this.forget(work.name);
    const statuses = [];
    for (const manifest of work.action === WorkAction.DELETE ? [...manifests].reverse() : manifests)
      statuses.push(
        work.action === WorkAction.DELETE
          ? await this.deleteOne(manifest, work.preserveResources)
          : await this.applyOne(manifest, work.conflictResolution),
      );
    if (work.action === WorkAction.APPLY) await this.track(work, manifests, statuses);
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
      // Unique to this run: a restarted agent's first report is news, not a duplicate.
      `${cluster}:${work.name}:${work.generation}:status:${this.run}`,
    );
    // Only a reported work is done: one whose report failed is applied and reported again when retried.
    this.generations.set(work.name, work.generation);
  }

  private async track(work: Work, manifests: JsonObject[], statuses: ManifestStatus[]): Promise<void> {
    const keys: string[] = [];
    for (const [index, manifest] of manifests.entries()) {
      if (statuses[index]?.state !== ManifestState.APPLIED) {
        keys.push("");
        continue;
      }
      const type = await this.typeOf(manifest);
      const namespace = type.namespaced ? (manifest.metadata?.namespace ?? "default") : "";
      const key = objectKey(manifest.apiVersion, manifest.kind, namespace, manifest.metadata.name);
      keys.push(key);
      this.placedObjects.set(key, { work: work.name, index });
    }
    this.placed.set(work.name, {
      generation: work.generation,
      conflict: work.conflictResolution,
      manifests,
      statuses,
      keys,
    });
  }

  private forget(workName: string): void {
    const placed = this.placed.get(workName);
    if (!placed) return;
    this.placed.delete(workName);
    for (const key of placed.keys)
      if (this.placedObjects.get(key)?.work === workName) this.placedObjects.delete(key);
  }

  private watch(type: ResourceType): void {
    const typeKey = gvrKey(type);
    if (this.watches.has(typeKey) || this.stopped) return;
    const unfollow = this.options.shared?.follow(type, (event) => {
      // Only Atoll's objects, and deletions of ones it knows, are worth a place in the queue.
      if (event.type === "SYNC_BEGIN" || event.type === "SYNC_END") return;
      const ours = placedByAtoll(event.object) || (event.type === "DELETED" && this.keysByUid.has(event.uid));
      if (!ours) return;
      this.observing = this.observing
        .then(() => this.observe(type, event))
        .catch((error: unknown) =>
          this.options.logger.warn(
            { err: (error as Error).message, watching: typeKey },
            "could not follow a placed object",
          ),
        );
    });
    if (unfollow) {
      this.watches.set(typeKey, { stop: unfollow });
      return;
    }
    const watch = new Reflector({
      client: this.options.client,
      type,
      labelSelector: `${MANAGED_BY}=atoll`,
      logger: this.options.logger.child({ watching: typeKey }),
      sink: (event) => this.observe(type, event),
    });
    this.watches.set(typeKey, watch);
    watch.start();
  }

  /** A change to an object Atoll placed: its status is reported again, its deletion undone. */
  private async observe(type: ResourceType, event: ReflectorEvent): Promise<void> {
    if (event.type === "SYNC_BEGIN" || event.type === "SYNC_END") return;
    const object = event.object;
    const uid = event.type === "DELETED" ? event.uid : event.object.metadata.uid;
    const key = object
      ? objectKey(apiVersionOf(type), type.kind, object.metadata.namespace ?? "", object.metadata.name)
      : this.keysByUid.get(uid);
    if (!key || (event.type !== "DELETED" && !placedByAtoll(object))) return;
    const placedObject = this.placedObjects.get(key);
    const placed = placedObject && this.placed.get(placedObject.work);
    if (event.type === "DELETED") this.keysByUid.delete(uid);
    else this.keysByUid.set(uid, key);
    if (!placedObject || !placed) return;
    const { index } = placedObject;
    const before = placed.statuses[index]!;
    let after: ManifestStatus;
    if (event.type === "DELETED") {
      this.options.logger.info(
        { work: placedObject.work, object: key },
        "an object Atoll placed was deleted in the member cluster; applying it again",
      );
      after = await this.applyOne(placed.manifests[index]!, placed.conflict);
    } else {
      after = appliedStatus(placed.manifests[index]!, object!);
    }
    // The work may have moved on while the object was being applied again.
    if (this.placed.get(placedObject.work) !== placed || sameStatus(before, after)) return;
    placed.statuses[index] = after;
    this.changedWorks.add(placedObject.work);
    this.reportTimer ??= setTimeout(() => void this.reportChanges(), REPORT_DELAY_MS);
  }

  private async reportChanges(): Promise<void> {
    const { bus, cluster, logger } = this.options;
    this.reportTimer = undefined;
    const names = [...this.changedWorks];
    this.changedWorks.clear();
    for (const name of names) {
      const placed = this.placed.get(name);
      if (!placed || this.stopped) continue;
      this.reports += 1;
      try {
        await bus.publish(
          bus.names.workStatus(cluster),
          workStatusCodec,
          create(WorkStatusSchema, {
            cluster,
            workName: name,
            generation: placed.generation,
            manifests: placed.statuses,
            reportedAtMs: BigInt(Date.now()),
          }),
          `${cluster}:${name}:${placed.generation}:status:${this.run}-${this.reports}`,
        );
      } catch (error) {
        logger.warn(
          { work: name, err: (error as Error).message },
          "could not report a work's status; retrying",
        );
        this.changedWorks.add(name);
      }
    }
    if (this.changedWorks.size > 0 && !this.stopped)
      this.reportTimer ??= setTimeout(() => void this.reportChanges(), REPORT_RETRY_MS);
  }
}

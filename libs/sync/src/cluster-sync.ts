import { randomUUID } from "node:crypto";
import type { Bus } from "@atoll/bus";
import {
  ClusterHeartbeatSchema,
  create,
  EventType,
  heartbeatCodec,
  type ResourceEvent,
  ResourceEventSchema,
  resourceBatchCodec,
  SyncMode,
  type SyncRule,
  SyncState,
} from "@atoll/contracts";
import {
  discoverResourceTypes,
  epochSyncId,
  gvrKey,
  type KubeClient,
  Reflector,
  type ReflectorEvent,
  type ResourceType,
  redactObject,
} from "@atoll/kube";
import type { Logger } from "@atoll/log";
import { DEFAULT_BATCH_BYTES, ResourceBatcher } from "./batcher.js";
import { CapacityTracker } from "./capacity.js";
import { defaultSyncRules, planReflectors, type ReflectorPlan, trimObject } from "./rules.js";

export interface ClusterSyncOptions {
  cluster: string;
  client: KubeClient;
  bus: Bus;
  logger: Logger;
  mode: "push" | "pull";
  agentVersion: string;
  /** What to sync; the built-in kinds when empty or absent. */
  rules?: SyncRule[];
  heartbeatIntervalMs?: number;
  /** How often discovery runs again to find newly served resources (CRDs). */
  rediscoverMs?: number;
  batch?: { maxEvents?: number; maxBytes?: number; lingerMs?: number };
}

const STATE: Record<string, SyncState> = {
  listing: SyncState.LISTING,
  watching: SyncState.WATCHING,
  backoff: SyncState.BACKOFF,
};

const EVENT_TYPE: Record<Exclude<ReflectorEvent["type"], never>, EventType> = {
  ADDED: EventType.ADDED,
  MODIFIED: EventType.MODIFIED,
  DELETED: EventType.DELETED,
  SYNC_BEGIN: EventType.SYNC_BEGIN,
  SYNC_END: EventType.SYNC_END,
};

const encoder = new TextEncoder();

const planKey = (plan: ReflectorPlan) => `${plan.type.group}/${plan.type.resource}@${plan.namespace ?? "*"}`;

/** How long the first heartbeat waits for nodes and pods to be listed; a huge cluster sends it sooner. */
const FIRST_HEARTBEAT_WAIT_MS = 10_000;

/** How often the agent looks whether every reflector has listed once. */
const EPOCH_POLL_MS = 200;

/** Room in a bus message for the batch envelope and an event's fields besides its object. */
const EVENT_ENVELOPE_BYTES = 8 * 1024;

/** Set on an object the index holds in part, to the size of the whole object in bytes. */
export const TRUNCATED_ANNOTATION = "atoll.dev/truncated-from-bytes";

/**
 * An object's JSON, made to fit in one bus message. Kubernetes objects can reach 1.5 MiB and a
 * NATS message is 1 MiB by default, so one that does not fit loses its bulk rather than its
 * place in the index: a CRD its OpenAPI schemas (names and printer columns stay), anything
 * else all but apiVersion, kind and metadata. The annotation says how large it really was.
 */
export function fitObject(
  object: Record<string, unknown>,
  maxBytes: number,
  onTruncated?: (wholeBytes: number) => void,
): Uint8Array {
  const whole = encoder.encode(JSON.stringify(object));
  if (whole.length <= maxBytes) return whole;
  onTruncated?.(whole.length);
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const marked = {
    ...metadata,
    annotations: {
      ...(metadata.annotations as Record<string, string> | undefined),
      [TRUNCATED_ANNOTATION]: String(whole.length),
    },
  };
  const shells: Record<string, unknown>[] = [];
  if (object.kind === "CustomResourceDefinition") {
    const spec = (object.spec ?? {}) as { versions?: Record<string, unknown>[] };
    shells.push({
      ...object,
      metadata: marked,
      spec: { ...spec, versions: spec.versions?.map(({ schema: _schema, ...version }) => version) },
    });
  }
  shells.push({ apiVersion: object.apiVersion, kind: object.kind, metadata: marked });
  for (const shell of shells) {
    const bytes = encoder.encode(JSON.stringify(shell));
    if (bytes.length <= maxBytes) return bytes;
  }
  // Even the metadata is too large (annotations can be): keep what identifies the object.
  const { name, namespace, uid, resourceVersion, creationTimestamp, labels } = metadata;
  return encoder.encode(
    JSON.stringify({
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: {
        name,
        namespace,
        uid,
        resourceVersion,
        creationTimestamp,
        labels,
        annotations: { [TRUNCATED_ANNOTATION]: String(whole.length) },
      },
    }),
  );
}

/**
 * Turns a reflector event into its wire form: redacted and trimmed at source, objects as JSON
 * bytes that fit in a bus message. Sync markers carry the plan's namespace, the scope the
 * indexer may sweep.
 */
export function toWireEvent(
  plan: ReflectorPlan,
  event: ReflectorEvent,
  maxObjectBytes = Number.POSITIVE_INFINITY,
  onTruncated?: (wholeBytes: number) => void,
): ResourceEvent {
  const { type } = plan;
  const base = {
    type: EVENT_TYPE[event.type],
    group: type.group,
    version: type.version,
    kind: type.kind,
    resource: type.resource,
    syncId: event.syncId,
  };
  if (event.type === "SYNC_BEGIN" || event.type === "SYNC_END") {
    return create(ResourceEventSchema, { ...base, namespace: plan.namespace ?? "" });
  }
  const metadata = event.object?.metadata;
  return create(ResourceEventSchema, {
    ...base,
    namespace: metadata?.namespace ?? "",
    name: metadata?.name ?? "",
    uid: event.type === "DELETED" ? event.uid : event.object.metadata.uid,
    resourceVersion:
      event.type === "DELETED" ? event.resourceVersion : BigInt(event.object.metadata.resourceVersion),
    object:
      event.type === "DELETED"
        ? new Uint8Array()
        : fitObject(trimObject(redactObject(event.object), plan.trimPaths), maxObjectBytes, onTruncated),
  });
}

/**
 * Everything an agent does for one cluster: a reflector per resource type, batching onto
 * atoll.v1.res.<cluster>, and a heartbeat into the clusters bucket. Push mode runs one per
 * registered cluster at the hub; pull mode runs one inside the member cluster.
 */
export class ClusterSync {
  readonly agentId = randomUUID();
  private readonly reflectors: { plan: ReflectorPlan; reflector: Reflector }[] = [];
  /** Who else hears a type's events, by gvrKey: the work applier, instead of a second watch. */
  private readonly followers = new Map<string, Set<(event: ReflectorEvent) => void>>();
  private readonly capacity = new CapacityTracker();
  private readonly batcher: ResourceBatcher;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private servedApis: string[] = [];
  private kubernetesVersion = "";
  private readonly maxObjectBytes: number;
  private stopped = false;

  constructor(private readonly options: ClusterSyncOptions) {
    const subject = options.bus.names.resources(options.cluster);
    this.maxObjectBytes = options.bus.maxPayload() - EVENT_ENVELOPE_BYTES;
    this.batcher = new ResourceBatcher({
      cluster: options.cluster,
      agentId: this.agentId,
      logger: options.logger,
      ...options.batch,
      maxBytes: Math.min(options.batch?.maxBytes ?? DEFAULT_BATCH_BYTES, this.maxObjectBytes),
      publish: async (batch, msgId) => {
        await options.bus.publish(subject, resourceBatchCodec, batch, msgId);
      },
    });
  }

  async start(): Promise<void> {
    const { client, logger } = this.options;
    // Before any list starts, so every object this run syncs is seen in a list at or after it.
    const epoch = epochSyncId();
    const version = await client.json<{ gitVersion: string }>({ path: "/version" });
    this.kubernetesVersion = version.gitVersion;
    const rules = this.options.rules?.length ? this.options.rules : defaultSyncRules();
    const { plans, unmatched } = planReflectors(rules, await this.discover());
    for (const index of unmatched) {
      logger.warn(
        { rule: index, apiVersion: rules[index]?.apiVersion, resource: rules[index]?.resource },
        "sync rule matches no served resource yet",
      );
    }
    logger.info(
      { reflectors: plans.length, kubernetesVersion: this.kubernetesVersion },
      "starting cluster sync",
    );
    for (const plan of plans) this.startReflector(plan);
    void this.endEpoch(epoch, [...this.reflectors]).catch((error: unknown) =>
      logger.warn({ err: (error as Error).message }, "could not announce the end of the first lists"),
    );
    // A first beat the bus does not take (a NATS server just died) is retried with the next, like
    // any other: failing the start here ended the agent, and its cluster fell silent for good.
    const beat = (starting = false) =>
      this.beat(starting).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, "heartbeat failed"),
      );
    // The hub starts reading a cluster when it hears from it. Waiting for the capacity lists left
    // a large cluster's first events piling up in the stream until the indexer's next lease pass,
    // and the indexer's first pulls of that backlog overran the server's buffer for it.
    await beat(true);
    await this.capacityListed();
    await beat();
    this.heartbeatTimer = setInterval(beat, this.options.heartbeatIntervalMs ?? 5000);
    // Resources served later (a new CRD, an aggregated API coming up) start syncing on the next pass.
    this.discoveryTimer = setInterval(() => {
      this.rediscover(rules).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, "rediscovery failed"),
      );
    }, this.options.rediscoverMs ?? 60_000);
  }

  private async discover(): Promise<ResourceType[]> {
    const served = await discoverResourceTypes(this.options.client);
    this.servedApis = served.map(gvrKey);
    return served;
  }

  private async rediscover(rules: SyncRule[]): Promise<void> {
    const running = new Set(this.reflectors.map(({ plan }) => planKey(plan)));
    for (const plan of planReflectors(rules, await this.discover()).plans) {
      if (running.has(planKey(plan))) continue;
      this.options.logger.info(
        { resource: plan.type.resource, group: plan.type.group },
        "a newly served resource matches the sync rules",
      );
      this.startReflector(plan);
    }
  }

  /**
   * Hands a type's events to `listener` as this sync's reflector receives them, when one watches
   * every object of the type (all namespaces, no selector), as a shared informer does: the caller
   * then needs no watch of its own on the cluster. Answers how to stop, or undefined when no such
   * reflector runs. The listener is called in order and not awaited: it must not block the sync.
   */
  follow(type: ResourceType, listener: (event: ReflectorEvent) => void): (() => void) | undefined {
    const key = gvrKey(type);
    const whole = this.reflectors.some(
      ({ plan }) =>
        gvrKey(plan.type) === key && !plan.namespace && !plan.labelSelector && !plan.fieldSelector,
    );
    if (!whole || this.stopped) return undefined;
    const followers = this.followers.get(key) ?? new Set();
    this.followers.set(key, followers);
    followers.add(listener);
    return () => followers.delete(listener);
  }

  private startReflector(plan: ReflectorPlan): void {
    const reflector = new Reflector({
      client: this.options.client,
      type: plan.type,
      ...(plan.namespace ? { namespace: plan.namespace } : {}),
      ...(plan.labelSelector ? { labelSelector: plan.labelSelector } : {}),
      ...(plan.fieldSelector ? { fieldSelector: plan.fieldSelector } : {}),
      logger: this.options.logger,
      sink: async (event) => {
        this.capacity.observe(plan.type.kind, event);
        for (const follower of this.followers.get(gvrKey(plan.type)) ?? []) follower(event);
        let truncatedFrom = 0;
        const wire = toWireEvent(plan, event, this.maxObjectBytes, (bytes) => {
          truncatedFrom = bytes;
        });
        if (truncatedFrom > 0)
          this.options.logger.warn(
            {
              kind: wire.kind,
              namespace: wire.namespace,
              name: wire.name,
              bytes: truncatedFrom,
              limit: this.maxObjectBytes,
            },
            "object too large for one bus message; indexing it without its bulk",
          );
        await this.batcher.add(wire);
      },
    });
    this.reflectors.push({ plan, reflector });
    reflector.start();
  }

  /**
   * Once every reflector of this run has listed, tells the indexer that rows of the cluster last
   * seen before the run's epoch are no longer synced: that is how narrowed sync rules, or a kind
   * the cluster stopped serving, leave the index. A reflector that never lists (its resource
   * forbidden, say) holds the announcement back, and nothing is removed on a guess.
   */
  private async endEpoch(epoch: string, initial: { reflector: Reflector }[]): Promise<void> {
    while (initial.some(({ reflector }) => reflector.lastListAt === 0)) {
      if (this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, EPOCH_POLL_MS));
    }
    if (this.stopped) return;
    await this.batcher.add(create(ResourceEventSchema, { type: EventType.EPOCH_END, syncId: epoch }));
    this.options.logger.info({ epoch, reflectors: initial.length }, "every resource listed once");
  }

  /**
   * Waits, for a while, until nodes and pods have been listed once. A heartbeat sent before then
   * would say the cluster has no ready node and no capacity, and the scheduler would believe it.
   */
  private async capacityListed(): Promise<void> {
    const capacityReflectors = this.reflectors.filter(
      ({ plan }) =>
        plan.type.group === "" && (plan.type.resource === "nodes" || plan.type.resource === "pods"),
    );
    const deadline = Date.now() + FIRST_HEARTBEAT_WAIT_MS;
    while (capacityReflectors.some(({ reflector }) => reflector.lastListAt === 0) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** `starting`: the beat sent before nodes and pods are listed, which carries no capacity. */
  private async beat(starting: boolean): Promise<void> {
    const { cluster, bus } = this.options;
    const summary = this.capacity.summary();
    const heartbeat = create(ClusterHeartbeatSchema, {
      cluster,
      agentId: this.agentId,
      agentVersion: this.options.agentVersion,
      mode: this.options.mode === "pull" ? SyncMode.PULL : SyncMode.PUSH,
      kubernetesVersion: this.kubernetesVersion,
      enabledApis: this.servedApis,
      ...(starting
        ? { starting }
        : {
            nodes: summary.nodes,
            allocatable: toWire(summary.allocatable),
            allocated: toWire(summary.allocated),
            allocating: toWire(summary.allocating),
          }),
      sync: this.reflectors.map(({ plan, reflector }) => ({
        group: plan.type.group,
        version: plan.type.version,
        resource: plan.namespace ? `${plan.type.resource}@${plan.namespace}` : plan.type.resource,
        state: STATE[reflector.state],
        objectCount: BigInt(reflector.objectCount),
        lastListMs: BigInt(reflector.lastListAt),
        lastError: reflector.lastError,
      })),
      sentAtMs: BigInt(Date.now()),
    });
    await bus.putHeartbeat(cluster, heartbeatCodec.encode(heartbeat));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.discoveryTimer);
    await Promise.all(this.reflectors.map(({ reflector }) => reflector.stop()));
    await this.batcher.close();
  }
}

function toWire(q: { cpuMillis: number; memoryBytes: number; pods: number }) {
  return {
    cpuMillis: BigInt(q.cpuMillis),
    memoryBytes: BigInt(Math.round(q.memoryBytes)),
    pods: BigInt(q.pods),
  };
}

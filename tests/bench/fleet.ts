/**
 * npm run bench:fleet: the hub against a fleet, printed, never asserted.
 *
 * For each fleet size in BENCH_CLUSTERS (100, 1000 and 5000 by default), a fresh hub (indexer,
 * scheduler and query processes with their production leases and intervals, on a NATS server
 * of the bench's own) and:
 * - BENCH_SAMPLE_AGENTS real agents on kube-sims, whose index must come out exact;
 * - the rest simulated at the wire: per cluster, the agent's own batcher publishes its initial
 *   lists (sync markers, every object, the end of the first lists) on the cluster's own subject,
 *   and heartbeats go into the clusters bucket at the agent's production interval, staggered.
 *
 * It prints, per size: the time to register every cluster through the API and to index every
 * cluster's initial list; heartbeat-to-liveness lag (a heartbeat's send to the hub's clusters
 * table showing it) p50/p99; freshness p50/p99 under BENCH_CHURN changes/s across the fleet;
 * the hub processes' CPU (cores, over the whole step) and RSS; the NATS server's RSS and its
 * consumer count; and the placement of BENCH_TEMPLATES templates, each spread over three
 * clusters of the fleet. A table for docs/benchmarks.md closes the run.
 */
import {
  ClusterHeartbeatSchema,
  create,
  EventType,
  heartbeatCodec,
  type ResourceEvent,
  ResourceEventSchema,
  resourceBatchCodec,
  SyncMode,
} from "@atoll/contracts";
import { startNatsServer, until } from "@atoll/devkit";
import { epochSyncId, newSyncId, redactObject } from "@atoll/kube";
import { generateCluster, KubeSim } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { ResourceBatcher } from "@atoll/sync";
import postgres from "postgres";
import { TestHub } from "../support/hub.js";
import { differences, indexState, simState } from "../support/state.js";
import { cpuSeconds, percentile, rssMb } from "./stats.js";

const SIZES = (process.env.BENCH_CLUSTERS ?? "100,1000,5000").split(",").map(Number);
const SAMPLE_AGENTS = Number(process.env.BENCH_SAMPLE_AGENTS ?? 2);
/** The agent's default heartbeat interval (HEARTBEAT_INTERVAL_MS). */
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS ?? 5000);
const CHURN = Number(process.env.BENCH_CHURN ?? 200);
const CHURN_SECONDS = Number(process.env.BENCH_CHURN_SECONDS ?? 20);
const TEMPLATES = Number(process.env.BENCH_TEMPLATES ?? 1000);
/** How many simulated clusters list at once: agents start together, the generator has one core. */
const LISTING_AT_ONCE = 64;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One cluster's objects as an agent sends them, grouped by resource type. */
interface WireType {
  group: string;
  version: string;
  kind: string;
  resource: string;
  objects: {
    namespace: string;
    name: string;
    uid: string;
    resourceVersion: bigint;
    /** As listed, and redacted as the agent sends it: what a change starts from. */
    object: Record<string, unknown> & { metadata: Record<string, unknown> };
    bytes: Uint8Array;
  }[];
}

/**
 * The inventory every simulated cluster lists: a generated cluster, redacted and serialized as
 * the agent does. Each cluster is keyed by its own name in the index, so the same objects serve
 * them all.
 */
function wireInventory(): { types: WireType[]; objects: number; maxRv: bigint } {
  const sim = new KubeSim({ name: "inventory", token: "unused" });
  generateCluster(sim, {
    seed: 4242,
    namespaces: ["default", "payments", "search"],
    deploymentsPerNamespace: 8,
  });
  const encoder = new TextEncoder();
  const types: WireType[] = [];
  let objects = 0;
  let maxRv = 0n;
  for (const type of sim.store.types()) {
    const entries = sim.store.list(type);
    if (entries.length === 0) continue;
    types.push({
      group: type.group,
      version: type.version,
      kind: type.kind,
      resource: type.resource,
      objects: entries.map(({ object }) => {
        const resourceVersion = BigInt(object.metadata.resourceVersion);
        if (resourceVersion > maxRv) maxRv = resourceVersion;
        const redacted = redactObject(object) as WireType["objects"][number]["object"];
        return {
          namespace: object.metadata.namespace ?? "",
          name: object.metadata.name,
          uid: object.metadata.uid,
          resourceVersion,
          object: redacted,
          bytes: encoder.encode(JSON.stringify(redacted)),
        };
      }),
    });
    objects += entries.length;
  }
  return { types, objects, maxRv };
}

/** Clusters simulated at the wire: their lists, heartbeats and changes, on their own subjects. */
class WireFleet {
  private readonly batchers = new Map<string, ResourceBatcher>();
  private readonly versions = new Map<string, bigint>();
  /** Each cluster's list of each type, by `cluster/resource`: watch events carry their list's sync id. */
  private readonly syncIds = new Map<string, string>();
  private heartbeats: NodeJS.Timeout | undefined;
  /** When each cluster's latest heartbeat was sent, by cluster. */
  readonly lastBeat = new Map<string, number>();
  heartbeatFailures = 0;

  constructor(
    private readonly hub: TestHub,
    private readonly clusters: string[],
    private readonly inventory: ReturnType<typeof wireInventory>,
  ) {
    for (const cluster of clusters) {
      const subject = hub.bus.names.resources(cluster);
      this.batchers.set(
        cluster,
        new ResourceBatcher({
          cluster,
          agentId: `wire-${cluster}`,
          logger: silentLogger(),
          publish: async (batch, msgId) => {
            await hub.bus.publish(subject, resourceBatchCodec, batch, msgId);
          },
        }),
      );
      this.versions.set(cluster, inventory.maxRv);
    }
  }

  /** Heartbeats at the production interval, each cluster at its own offset within it. */
  startHeartbeats(): void {
    const tick = 100;
    let slot = 0;
    const slots = HEARTBEAT_MS / tick;
    const beat = () => {
      const due = this.clusters.filter((_, i) => i % slots === slot);
      slot = (slot + 1) % slots;
      for (const cluster of due) {
        const sentAt = Date.now();
        const heartbeat = create(ClusterHeartbeatSchema, {
          cluster,
          agentId: `wire-${cluster}`,
          agentVersion: "bench",
          mode: SyncMode.PULL,
          kubernetesVersion: "v1.31.0",
          nodes: { total: 3, ready: 3 },
          allocatable: { cpuMillis: 24_000n, memoryBytes: 96n * 2n ** 30n, pods: 330n },
          allocated: { cpuMillis: 2_000n, memoryBytes: 8n * 2n ** 30n, pods: 40n },
          sentAtMs: BigInt(sentAt),
        });
        this.hub.bus.putHeartbeat(cluster, heartbeatCodec.encode(heartbeat)).then(
          () => this.lastBeat.set(cluster, sentAt),
          () => {
            this.heartbeatFailures++;
          },
        );
      }
    };
    beat();
    this.heartbeats = setInterval(beat, tick);
  }

  /** Every cluster lists every type, as an agent's reflectors do at start, then ends its first lists. */
  async listAll(): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.clusters.length) {
        const cluster = this.clusters[next++]!;
        const batcher = this.batchers.get(cluster)!;
        const epoch = epochSyncId();
        for (const type of this.inventory.types) {
          const base = { group: type.group, version: type.version, kind: type.kind, resource: type.resource };
          const syncId = newSyncId();
          this.syncIds.set(`${cluster}/${type.resource}`, syncId);
          await batcher.add(create(ResourceEventSchema, { ...base, type: EventType.SYNC_BEGIN, syncId }));
          for (const object of type.objects)
            await batcher.add(
              create(ResourceEventSchema, {
                ...base,
                type: EventType.ADDED,
                namespace: object.namespace,
                name: object.name,
                uid: object.uid,
                resourceVersion: object.resourceVersion,
                object: object.bytes,
                syncId,
              }),
            );
          await batcher.add(create(ResourceEventSchema, { ...base, type: EventType.SYNC_END, syncId }));
        }
        await batcher.add(create(ResourceEventSchema, { type: EventType.EPOCH_END, syncId: epoch }));
        await batcher.flush();
      }
    };
    await Promise.all(Array.from({ length: LISTING_AT_ONCE }, worker));
  }

  /** One object of one cluster changes: a MODIFIED event with the cluster's next resourceVersion. */
  async change(cluster: string, pick: number): Promise<bigint> {
    const types = this.inventory.types;
    const type = types[pick % types.length]!;
    const object = type.objects[Math.floor(pick / types.length) % type.objects.length]!;
    const resourceVersion = this.versions.get(cluster)! + 1n;
    this.versions.set(cluster, resourceVersion);
    const event: ResourceEvent = create(ResourceEventSchema, {
      type: EventType.MODIFIED,
      group: type.group,
      version: type.version,
      kind: type.kind,
      resource: type.resource,
      namespace: object.namespace,
      name: object.name,
      uid: object.uid,
      resourceVersion,
      object: new TextEncoder().encode(
        JSON.stringify({
          ...object.object,
          metadata: { ...object.object.metadata, resourceVersion: String(resourceVersion) },
        }),
      ),
      syncId: this.syncIds.get(`${cluster}/${type.resource}`)!,
    });
    await this.batchers.get(cluster)!.add(event);
    return resourceVersion;
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeats);
    await Promise.all([...this.batchers.values()].map((batcher) => batcher.close()));
  }
}

interface StepFigures {
  clusters: number;
  registerSeconds: number;
  syncSeconds: number;
  objects: number;
  heartbeatP50: number;
  heartbeatP99: number;
  freshnessP50: number;
  freshnessP99: number;
  hubCores: number;
  hubRssMb: number;
  natsRssMb: number;
  consumers: number;
  placementSeconds: number;
  sampleExact: boolean;
}

const POLICY = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: fleet-three-each }
spec:
  resourceSelectors: [{ apiVersion: v1, kind: ConfigMap, labelSelector: { matchLabels: { fleet-bench: "yes" } } }]
  placement:
    spreadConstraints: [{ spreadByField: cluster, minGroups: 3, maxGroups: 3 }]
`;

async function step(clusters: number, inventory: ReturnType<typeof wireInventory>): Promise<StepFigures> {
  const nats = await startNatsServer();
  const hub = new TestHub({
    natsUrl: nats.url,
    env: {
      LOG_LEVEL: "warn",
      INDEXER_ACK_WAIT_MS: "30000",
      INDEXER_LEASE_TTL_MS: "15000",
      ATOLL_LEADER_LEASE_MS: "15000",
      ATOLL_CROSS_OBJECT_MS: "15000",
    },
  });
  const sims = Array.from(
    { length: SAMPLE_AGENTS },
    (_, i) => new KubeSim({ name: `sample-${i}`, token: `sample-${i}` }),
  );
  let fleet: WireFleet | undefined;
  let sql: postgres.Sql | undefined;
  try {
    for (const [i, sim] of sims.entries()) {
      await sim.start();
      generateCluster(sim, { seed: 50 + i, namespaces: ["default", "payments"], deploymentsPerNamespace: 6 });
    }
    await hub.start();
    hub.startScheduler();
    sql = postgres(hub.databaseUrl, { max: 2, onnotice: () => {} });
    const hubProcesses = () => [hub.indexer, hub.query, hub.scheduler!].map((s) => s.process.pid!);
    const cpuAtStart = hubProcesses().map(cpuSeconds);
    const stepStart = performance.now();
    const names = Array.from(
      { length: clusters - SAMPLE_AGENTS },
      (_, i) => `f-${String(i).padStart(5, "0")}`,
    );

    // Registration through the API, a few requests at a time, as a provisioning pipeline would.
    const registerStart = performance.now();
    const toRegister = [...sims.map((sim) => sim.name), ...names];
    let nextToRegister = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (nextToRegister < toRegister.length) {
          const name = toRegister[nextToRegister++]!;
          const { status, body } = await hub.send("POST", "/api/v1/clusters", { mode: "pull", name });
          if (status !== 201) throw new Error(`registering ${name}: ${status} ${JSON.stringify(body)}`);
        }
      }),
    );
    const registerSeconds = (performance.now() - registerStart) / 1000;

    // Initial sync: every cluster lists at once (the wire fleet as fast as one process sends).
    const syncStart = performance.now();
    for (const sim of sims) hub.startAgent(sim, { HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) });
    fleet = new WireFleet(hub, names, inventory);
    fleet.startHeartbeats();
    await fleet.listAll();
    const expectedObjects =
      names.length * inventory.objects + sims.reduce((n, sim) => n + sim.store.count(), 0);
    let indexed = 0;
    await until(
      async () => {
        indexed = Number((await sql!`select count(*)::int as n from resources`)[0]?.n ?? 0);
        return indexed >= expectedObjects;
      },
      "every cluster's initial list in the index",
      1_800_000,
      500,
    );
    const syncSeconds = (performance.now() - syncStart) / 1000;
    console.log(
      `  ${clusters} clusters: registered in ${registerSeconds.toFixed(1)} s; ${expectedObjects} objects indexed ${syncSeconds.toFixed(1)} s after the agents started (${Math.round(expectedObjects / syncSeconds)} objects/s)`,
    );

    // Heartbeat to liveness: a sample of clusters, their table rows polled often.
    const sample = names.filter((_, i) => i % Math.max(1, Math.floor(names.length / 50)) === 0);
    const seen = new Map<string, number>();
    const lags: number[] = [];
    // Churn across the fleet meanwhile; each change's send time, for its history row.
    const sentAt = new Map<string, number>();
    let churning = true;
    const churn = (async () => {
      let pick = 0;
      const interval = 1000 / CHURN;
      const start = Date.now();
      while (churning) {
        const cluster = names[(pick * 7919) % names.length]!;
        const resourceVersion = await fleet!.change(cluster, pick++);
        sentAt.set(`${cluster}/${resourceVersion}`, Date.now());
        const due = start + pick * interval - Date.now();
        if (due > 0) await sleep(due);
      }
    })();
    const churnStart = new Date();
    const watchUntil = Date.now() + CHURN_SECONDS * 1000;
    while (Date.now() < watchUntil) {
      const rows =
        await sql!`select name, (extract(epoch from last_heartbeat) * 1000)::float8 as at from clusters where name in ${sql!(sample)}`;
      const now = Date.now();
      for (const row of rows) {
        const at = Number(row.at);
        if (seen.has(row.name) && seen.get(row.name)! < at) lags.push(now - at);
        seen.set(row.name, at);
      }
      await sleep(50);
    }
    churning = false;
    await churn;
    await sleep(5_000);
    const history = await sql!`
      select cluster, resource_version::text as rv, (extract(epoch from time) * 1000)::float8 as t
      from resource_changes where time >= ${churnStart} and change_type = 'MODIFIED' and cluster like 'f-%'`;
    const freshness = history
      .map((row) => Number(row.t) - (sentAt.get(`${row.cluster}/${row.rv}`) ?? Number.NaN))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    lags.sort((a, b) => a - b);
    console.log(
      `  heartbeat to liveness over ${lags.length} heartbeats: p50 ${Math.round(percentile(lags, 50))} ms, p99 ${Math.round(percentile(lags, 99))} ms; freshness at ${CHURN} changes/s over ${freshness.length} of ${sentAt.size} changes: p50 ${Math.round(percentile(freshness, 50))} ms, p99 ${Math.round(percentile(freshness, 99))} ms`,
    );

    // Placement across the fleet: templates spread over three clusters each.
    const placementStart = performance.now();
    for (let from = 0; from < TEMPLATES; from += 200) {
      const documents = [
        ...(from === 0 ? [POLICY] : []),
        ...Array.from(
          { length: Math.min(200, TEMPLATES - from) },
          (_, i) =>
            `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: fleet-${from + i}, namespace: default, labels: { fleet-bench: "yes" } }\ndata: { n: "${from + i}" }\n`,
        ),
      ].join("---\n");
      const { status, body } = await hub.send("POST", "/api/v1/apply", { documents });
      if (status !== 200) throw new Error(`apply: ${status} ${JSON.stringify(body)}`);
    }
    await until(
      async () => {
        const [row] = await sql!`
          select (select count(*)::int from bindings where condition = 'Success') as placed,
            (select coalesce(sum(jsonb_array_length(works)), 0)::int from work_sends) as unsent`;
        return row?.placed === TEMPLATES && row?.unsent === 0;
      },
      "every template placed and its works sent",
      600_000,
      200,
    );
    const placementSeconds = (performance.now() - placementStart) / 1000;

    const expected = simState(sims);
    const sampled = new Map(
      [...(await indexState(sql)).entries()].filter(([key]) => key.startsWith("sample-")),
    );
    const sampleExact = differences(expected, sampled).length === 0;
    const hubCores =
      hubProcesses()
        .map(cpuSeconds)
        .reduce((sum, seconds, i) => sum + seconds - cpuAtStart[i]!, 0) /
      ((performance.now() - stepStart) / 1000);
    let consumers = 0;
    for await (const stream of hub.bus.jsm.streams.list()) consumers += stream.state.consumer_count;
    const figures: StepFigures = {
      clusters,
      registerSeconds,
      syncSeconds,
      objects: expectedObjects,
      heartbeatP50: percentile(lags, 50),
      heartbeatP99: percentile(lags, 99),
      freshnessP50: percentile(freshness, 50),
      freshnessP99: percentile(freshness, 99),
      hubCores,
      hubRssMb: hubProcesses().reduce((sum, pid) => sum + rssMb(pid), 0),
      natsRssMb: rssMb(nats.process.pid!),
      consumers,
      placementSeconds,
      sampleExact,
    };
    console.log(
      `  placement of ${TEMPLATES} templates (3 clusters each): ${placementSeconds.toFixed(1)} s (${Math.round(TEMPLATES / placementSeconds)} bindings/s); hub CPU ${hubCores.toFixed(2)} cores, RSS ${Math.round(figures.hubRssMb)} MB (indexer, query, scheduler); NATS RSS ${Math.round(figures.natsRssMb)} MB, ${consumers} consumers; sample agents indexed exactly: ${sampleExact ? "yes" : "NO"}; heartbeat publish failures ${fleet.heartbeatFailures}`,
    );
    return figures;
  } finally {
    await fleet?.stop();
    await sql?.end({ timeout: 2 });
    await hub.stop();
    await Promise.all(sims.map((sim) => sim.stop()));
    await nats.stop();
  }
}

async function main(): Promise<void> {
  const inventory = wireInventory();
  console.log(
    `bench:fleet sizes=${SIZES.join(",")} objects per simulated cluster=${inventory.objects} heartbeat every ${HEARTBEAT_MS} ms, churn ${CHURN}/s for ${CHURN_SECONDS} s, ${TEMPLATES} templates`,
  );
  const rows: StepFigures[] = [];
  for (const clusters of SIZES) rows.push(await step(clusters, inventory));
  console.log(
    "\n| Clusters | Register | Initial sync (objects) | Heartbeat lag p50 / p99 | Freshness p50 / p99 | Hub CPU | Hub RSS | NATS RSS | Consumers | Placement of templates |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows)
    console.log(
      `| ${r.clusters} | ${r.registerSeconds.toFixed(1)} s | ${r.syncSeconds.toFixed(1)} s (${r.objects}) | ${Math.round(r.heartbeatP50)} / ${Math.round(r.heartbeatP99)} ms | ${Math.round(r.freshnessP50)} / ${Math.round(r.freshnessP99)} ms | ${r.hubCores.toFixed(2)} cores | ${Math.round(r.hubRssMb)} MB | ${Math.round(r.natsRssMb)} MB | ${r.consumers} | ${r.placementSeconds.toFixed(1)} s${r.sampleExact ? "" : " (sample NOT exact)"} |`,
    );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

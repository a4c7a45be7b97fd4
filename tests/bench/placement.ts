/**
 * npm run bench:placement: scheduling throughput, printed, never asserted.
 *
 * BENCH_CLUSTERS simulated clusters (1000; inventory only: registry rows and heartbeats that
 * differ in labels, region, zones, taints and capacity) and BENCH_TEMPLATES Deployments (10,000)
 * under five propagation policies and an override policy. In the same run:
 * - the pure algorithm: election, filters, selection, division and per-cluster rendering, in process;
 * - end to end: placement requests on NATS → the scheduler service → bindings and works in
 *   Postgres and works on NATS, from the first request to the last binding, on a scheduler that
 *   has placed BENCH_WARMUP templates (2,000) before, untimed but printed; with the CPU each
 *   binding cost the scheduler (all its threads) and Postgres;
 * - status reports: each placed work reported applied and healthy on NATS, as each cluster's
 *   agent does after a rollout, until every report is recorded and the index's ResourceBindings
 *   show them all, with the CPU each report cost.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus, isBacklogFull } from "@atoll/bus";
import {
  ClusterHeartbeatSchema,
  create,
  heartbeatCodec,
  ManifestState,
  PlacementReason,
  SyncMode,
  WorkStatusSchema,
  workStatusCodec,
} from "@atoll/contracts";
import { clusterStates, FleetHealth, requestPlacement } from "@atoll/control";
import { spawnService, until } from "@atoll/devkit";
import { silentLogger } from "@atoll/log";
import {
  electPolicy,
  FilterMemo,
  FLEET_AUTHORITY,
  type OverridePolicyDoc,
  type PropagationPolicyDoc,
  parseDocuments,
  renderWorks,
  scheduleBinding,
  type TemplateDoc,
} from "@atoll/placement";
import {
  heartbeatToRow,
  openDatabase,
  registerCluster,
  temporaryDatabase,
  upsertPolicy,
  upsertTemplate,
} from "@atoll/store";
import type postgres from "postgres";
import { cpuSeconds, machineCpu } from "./stats.js";

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 1000);
const TEMPLATES = Number(process.env.BENCH_TEMPLATES ?? 10_000);
/** Templates placed first, untimed, in namespaces of their own. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2_000);
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east"];

const POLICIES = `
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: spread-by-region }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, labelSelector: { matchLabels: { tier: web } } }]
  placement:
    clusterAffinity: { labelSelector: { matchLabels: { env: prod } } }
    spreadConstraints: [{ spreadByField: region, minGroups: 2, maxGroups: 3 }, { spreadByField: cluster, minGroups: 3, maxGroups: 6 }]
    replicaScheduling: { replicaSchedulingType: Divided, replicaDivisionPreference: Weighted, weightPreference: { dynamicWeight: AvailableReplicas } }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: aggregated-eu }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, labelSelector: { matchLabels: { tier: batch } } }]
  placement:
    clusterAffinity: { fieldSelector: { matchExpressions: [{ key: region, operator: In, values: [eu-west, eu-central] }] } }
    spreadConstraints: [{ spreadByField: cluster, maxGroups: 4 }]
    replicaScheduling: { replicaSchedulingType: Divided, replicaDivisionPreference: Aggregated }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: static-weights }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, labelSelector: { matchLabels: { tier: api } } }]
  placement:
    clusterAffinity: { clusterNames: [c-0001, c-0002, c-0003, c-0004, c-0005] }
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - { targetCluster: { clusterNames: [c-0001] }, weight: 3 }
          - { targetCluster: { labelSelector: { matchLabels: { env: prod } } }, weight: 1 }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: duplicated-edge }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment, labelSelector: { matchLabels: { tier: edge } } }]
  placement:
    clusterAffinity: { labelSelector: { matchLabels: { env: edge } } }
    clusterTolerations: [{ key: edge, operator: Exists, effect: NoSchedule }]
    spreadConstraints: [{ spreadByField: cluster, maxGroups: 5 }]
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: { name: fallback }
spec:
  resourceSelectors: [{ apiVersion: apps/v1, kind: Deployment }]
  placement:
    clusterAffinities:
      - { affinityName: gpu, labelSelector: { matchLabels: { gpu: "true" } } }
      - { affinityName: any-prod, labelSelector: { matchLabels: { env: prod } } }
    spreadConstraints: [{ spreadByField: cluster, maxGroups: 2 }]
    replicaScheduling: { replicaSchedulingType: Divided, replicaDivisionPreference: Weighted, weightPreference: { dynamicWeight: AvailableReplicas } }
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata: { name: regional-mirrors }
spec:
  overrideRules:
    - targetCluster: { fieldSelector: { matchExpressions: [{ key: region, operator: In, values: [us-east, us-west] }] } }
      overriders:
        imageOverrider: [{ component: Registry, operator: replace, value: mirror.us.example }]
`;

const TIERS = ["web", "batch", "api", "edge", "other"];

/** The i-th Deployment; `namespacePrefix` sets the warm-up's apart from the timed ones. */
function template(i: number, namespacePrefix = "team"): TemplateDoc {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: `app-${i}`,
      namespace: `${namespacePrefix}-${i % 50}`,
      labels: { tier: TIERS[i % TIERS.length]! },
    },
    spec: {
      replicas: 1 + (i % 12),
      template: {
        spec: {
          containers: [
            {
              name: "main",
              image: `registry.example/app-${i % 300}:1`,
              resources: { requests: { cpu: "250m", memory: "256Mi" } },
            },
          ],
        },
      },
    },
  };
}

/** The bench's own connections to Postgres, by application_name. */
const BENCH_CLIENT = "atoll-bench";

/**
 * CPU seconds each Postgres backend serving this database has used so far, by process id, but
 * those answering the bench itself.
 */
async function backendCpu(sql: postgres.Sql): Promise<Map<number, number>> {
  const backends = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = current_database() and application_name <> ${BENCH_CLIENT}`;
  const used = new Map<number, number>();
  for (const { pid } of backends) {
    try {
      used.set(pid, cpuSeconds(pid));
    } catch {
      // The backend ended between the listing and the read.
    }
  }
  return used;
}

async function main(): Promise<void> {
  const database = await temporaryDatabase("bench_placement");
  // Named, so that the CPU Postgres spends answering the bench itself is left out.
  const handle = await openDatabase(database.url, {
    migrate: false,
    maxConnections: 4,
    sessionSettings: { application_name: BENCH_CLIENT },
  });
  const prefix = `bench${randomBytes(3).toString("hex")}`;
  const bus = await Bus.connect({ url: NATS_URL, name: "bench-placement", prefix, logger: silentLogger() });
  await bus.ensureTopology();
  const dir = mkdtempSync(join(tmpdir(), "atoll-bench-placement-"));
  try {
    console.log(`inventory: ${CLUSTERS} clusters, ${TEMPLATES} templates`);
    const fleet = new FleetHealth();
    for (let i = 1; i <= CLUSTERS; i++) {
      const name = `c-${String(i).padStart(4, "0")}`;
      const edge = i % 10 === 0;
      await registerCluster(handle.sql, {
        name,
        syncMode: "pull",
        labels: { env: edge ? "edge" : "prod", ...(i % 25 === 0 ? { gpu: "true" } : {}) },
        region: REGIONS[i % REGIONS.length]!,
        zone: `${REGIONS[i % REGIONS.length]}-${"abc"[i % 3]}`,
        ...(edge ? { taints: [{ key: "edge", value: "true", effect: "NoSchedule" }] } : {}),
      });
      // The scheduler hears heartbeats on the bus; the bench heard them too, for the pure run.
      const capacity = {
        allocatable: {
          cpuMillis: BigInt(16_000 * (1 + (i % 8))),
          memoryBytes: BigInt(2 ** 35 * (1 + (i % 8))),
          pods: BigInt(110 * (1 + (i % 8))),
        },
        allocated: { cpuMillis: 4000n, memoryBytes: BigInt(2 ** 33), pods: 40n },
        allocating: { cpuMillis: 0n, memoryBytes: 0n, pods: 0n },
      };
      const heartbeat = create(ClusterHeartbeatSchema, {
        cluster: name,
        agentId: "bench",
        mode: SyncMode.PULL,
        kubernetesVersion: "v1.30.0",
        nodes: { total: 3, ready: 3 },
        ...capacity,
        sentAtMs: BigInt(Date.now()),
      });
      await bus.putHeartbeat(name, heartbeatCodec.encode(heartbeat));
      fleet.observe(name, Date.now(), heartbeatToRow(heartbeat).status as never);
    }
    const parsed = parseDocuments(POLICIES);
    for (const doc of [...parsed.propagationPolicies, ...parsed.overridePolicies])
      await upsertPolicy(handle.sql, {
        kind: doc.kind,
        namespace: doc.metadata.namespace ?? "",
        name: doc.metadata.name,
        document: doc,
        authority: FLEET_AUTHORITY,
      });
    const templates = Array.from({ length: TEMPLATES }, (_, i) => template(i));
    const warmup = Array.from({ length: WARMUP }, (_, i) => template(i, "warmup"));
    for (const t of [...templates, ...warmup])
      await upsertTemplate(
        handle.sql,
        { apiVersion: t.apiVersion, kind: t.kind, namespace: t.metadata.namespace!, name: t.metadata.name },
        t,
        FLEET_AUTHORITY,
      );

    // The pure algorithm, in process.
    const clusters = await clusterStates(handle.sql, fleet, 7200);
    const policies = parsed.propagationPolicies as PropagationPolicyDoc[];
    const overrides = parsed.overridePolicies as OverridePolicyDoc[];
    const byName = new Map(clusters.map((c) => [c.name, c]));
    // As the scheduler does: its batches share filter verdicts (here, one batch).
    const memo = new FilterMemo();
    let placed = 0;
    const pureStart = performance.now();
    for (const [i, t] of templates.entries()) {
      const policy = electPolicy(
        t as never,
        policies.map((p) => ({
          ...p,
          name: p.metadata.name,
          priority: p.spec.priority ?? 0,
          resourceSelectors: p.spec.resourceSelectors,
        })),
      );
      if (!policy) continue;
      try {
        const decision = scheduleBinding({
          template: t,
          placement: policy.spec.placement ?? {},
          clusters,
          uid: `uid-${i}`,
          memo,
        });
        renderWorks({
          template: t,
          overridePolicies: overrides,
          binding: `b-${i}`,
          targets: decision.clusters.map((target) => ({
            cluster: byName.get(target.name)!,
            replicas: target.replicas,
          })),
        });
        placed += 1;
      } catch {
        // A template no cluster fits still counts as scheduled: the decision is "nowhere".
        placed += 1;
      }
    }
    const pureSeconds = (performance.now() - pureStart) / 1000;
    console.log(
      `pure algorithm: ${placed} bindings in ${pureSeconds.toFixed(2)} s = ${Math.round(placed / pureSeconds)} bindings/s`,
    );

    // End to end through the scheduler service.
    const scheduler = spawnService(
      "scheduler",
      "@atoll/scheduler",
      {
        NATS_URL,
        DATABASE_URL: database.url,
        ATOLL_BUS_PREFIX: prefix,
        LOG_LEVEL: "warn",
        ATOLL_CLUSTER_GRACE_SECONDS: "7200",
      },
      dir,
    );
    try {
      // The clock starts once the scheduler leads and consumes, as on a running hub: its start
      // (loading modules, connecting, following 1,000 heartbeats) is not placement.
      await until(
        () =>
          bus.jsm.consumers.info(bus.names.streams.placement, "scheduler").then(
            () => true,
            () => false,
          ),
        "the scheduler's consumer",
        60_000,
        50,
      );
      const schedulerPid = scheduler.process.pid!;
      /** Starts counting the CPU the scheduler and Postgres use; the function returned tells how much so far. */
      const cpuFromNow = async () => {
        const scheduler = cpuSeconds(schedulerPid);
        const postgres = await backendCpu(handle.sql);
        const machine = machineCpu();
        return async () => {
          let postgresUsed = 0;
          for (const [pid, used] of await backendCpu(handle.sql))
            postgresUsed += used - (postgres.get(pid) ?? 0);
          const now = machineCpu();
          return {
            scheduler: cpuSeconds(schedulerPid) - scheduler,
            postgres: postgresUsed,
            machine: { busy: now.busy - machine.busy, steal: now.steal - machine.steal, cores: now.cores },
          };
        };
      };
      /** Places templates through the scheduler: seconds from the first request to the last binding. */
      const round = async (list: TemplateDoc[]) => {
        const [before] = await handle.sql`select count(*)::int as n from bindings`;
        const cpu = await cpuFromNow();
        const start = performance.now();
        // Requests come from many writers at once; 500 are in flight at a time, as a hub under
        // load sees them, rather than one client waiting for each acknowledgement in turn.
        for (let at = 0; at < list.length; at += 500)
          await Promise.all(
            list.slice(at, at + 500).map((t) =>
              requestPlacement(
                bus,
                {
                  apiVersion: t.apiVersion,
                  kind: t.kind,
                  namespace: t.metadata.namespace!,
                  name: t.metadata.name,
                },
                PlacementReason.TEMPLATE_CHANGED,
              ),
            ),
          );
        const published = (performance.now() - start) / 1000;
        await until(
          async () => {
            const [row] = await handle.sql`select count(*)::int as n from bindings`;
            return (row?.n ?? 0) >= (before?.n ?? 0) + list.length;
          },
          "every binding",
          1_800_000,
          250,
        );
        const seconds = (performance.now() - start) / 1000;
        return { seconds, published, ...(await cpu()) };
      };
      const rate = (count: number, seconds: number) => Math.round(count / seconds);
      // A hub's scheduler runs for weeks: the timed round runs on one that has placed before. Its
      // first placements also compile the code they run (V8's optimizing compiler took a quarter
      // of the scheduler's CPU in a cold 10,000), which the warm-up round shows on its own.
      const cold = await round(warmup);
      console.log(
        `warm-up: ${warmup.length} bindings in ${cold.seconds.toFixed(1)} s = ${rate(warmup.length, cold.seconds)} bindings/s on a scheduler just started`,
      );
      const warm = await round(templates);
      const [works] = await handle.sql`
        select count(*)::int as n, count(distinct cluster)::int as clusters from works where binding_namespace like 'team-%'`;
      const [fit] = await handle.sql`
        select count(*) filter (where condition = 'Success')::int as ok from bindings where namespace like 'team-%'`;
      console.log(
        `end to end: ${TEMPLATES} bindings in ${warm.seconds.toFixed(1)} s = ${rate(TEMPLATES, warm.seconds)} bindings/s ` +
          `(requests published in ${warm.published.toFixed(1)} s; ${fit?.ok} placed, ${works?.n} works on ${works?.clusters} clusters)`,
      );
      const perBinding = (cpu: number) => ((cpu * 1000) / TEMPLATES).toFixed(2);
      console.log(
        `CPU per binding: scheduler ${perBinding(warm.scheduler)} ms (${((100 * warm.scheduler) / warm.seconds).toFixed(0)}% of a core, ` +
          `its threads together), Postgres ${perBinding(warm.postgres)} ms, the whole machine ${perBinding(warm.machine.busy)} ms ` +
          `(${((100 * warm.machine.busy) / (warm.seconds * warm.machine.cores)).toFixed(0)}% of its ${warm.machine.cores} cores busy, ` +
          `${((100 * warm.machine.steal) / (warm.seconds * warm.machine.cores)).toFixed(0)}% taken by the host)`,
      );
      // A rollout's status reports: each cluster's agent reports each of its works applied and
      // healthy once, as in the first minutes after a placement.
      const placedWorks = await handle.sql<
        { cluster: string; namespace: string; name: string; generation: string }[]
      >`
        select cluster, binding_namespace as namespace, binding_name as name, generation::text from works
        where binding_namespace like 'team-%'`;
      const reportCpu = await cpuFromNow();
      const reportStart = performance.now();
      const status = (work: (typeof placedWorks)[number]) => ({
        subject: bus.names.workStatus(work.cluster),
        data: workStatusCodec.encode(
          create(WorkStatusSchema, {
            cluster: work.cluster,
            workName: `${work.namespace}/${work.name}`,
            generation: BigInt(work.generation),
            manifests: [
              {
                apiVersion: "apps/v1",
                kind: "Deployment",
                namespace: work.namespace,
                name: work.name.replace(/-deployment$/, ""),
                state: ManifestState.APPLIED,
                healthy: true,
                status: new TextEncoder().encode('{"replicas":2,"readyReplicas":2}'),
              },
            ],
            reportedAtMs: BigInt(Date.now()),
          }),
        ),
        msgId: `${work.cluster}:${work.namespace}/${work.name}:${work.generation}:status:bench`,
      });
      const byCluster = new Map<string, (typeof placedWorks)[number][]>();
      for (const work of placedWorks)
        byCluster.set(work.cluster, [...(byCluster.get(work.cluster) ?? []), work]);
      // Each cluster's agent reports on its own; one with its quota waiting backs off and retries.
      await Promise.all(
        [...byCluster.values()].map(async (works) => {
          for (let at = 0; at < works.length; at += 200)
            for (;;) {
              try {
                await bus.publishAll(works.slice(at, at + 200).map(status));
                break;
              } catch (error) {
                if (!isBacklogFull(error)) throw error;
                await new Promise((resolve) => setTimeout(resolve, 100));
              }
            }
        }),
      );
      // Recorded on the works and bindings, and shown by the index's ResourceBindings.
      await until(
        async () => {
          const [reported] = await handle.sql<{ n: number }[]>`
            select count(*)::int as n from works where binding_namespace like 'team-%' and reported_generation = generation`;
          if (reported?.n !== placedWorks.length) return false;
          const [row] = await handle.sql<{ behind: number }[]>`
            select count(*)::int as behind from bindings b
            where b.namespace like 'team-%' and not exists (
              select 1 from resources r where r.cluster = 'atoll.hub' and r.uid = 'binding/' || b.namespace || '/' || b.name
                and jsonb_array_length(r.object #> '{status,aggregatedStatus}') =
                  (select count(*) from jsonb_object_keys(b.aggregated_status)))`;
          return row?.behind === 0;
        },
        "every report recorded and indexed",
        1_800_000,
        500,
      );
      const reportSeconds = (performance.now() - reportStart) / 1000;
      const reportUsed = await reportCpu();
      const perReport = (cpu: number) => ((cpu * 1000) / placedWorks.length).toFixed(2);
      console.log(
        `status reports: ${placedWorks.length} in ${reportSeconds.toFixed(1)} s = ${rate(placedWorks.length, reportSeconds)} reports/s, recorded and indexed; ` +
          `CPU per report: scheduler ${perReport(reportUsed.scheduler)} ms, Postgres ${perReport(reportUsed.postgres)} ms`,
      );
      console.log("Karmada's published figure: about 22 bindings/s (v1.15)");
    } finally {
      await scheduler.stop();
    }
  } finally {
    await bus.removeTopology();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
    await handle.close();
    await database.drop();
  }
}

await main();

/**
 * npm run bench:sync: figures for the sync path, printed, never asserted.
 *
 * One sim with BENCH_PODS pods (100k by default). In the same run:
 * - ceiling: the same redacted objects bulk-upserted straight into an empty table;
 * - initial sync: agent → NATS → indexer → Postgres, from process start to the last row;
 * - freshness: p50/p99 from a change in the sim to its history row, at BENCH_CHURN changes/s;
 * - agent RSS while it watches every pod.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@atoll/bus";
import { type ServiceProcess, spawnService, until } from "@atoll/devkit";
import { redactObject } from "@atoll/kube";
import { KubeSim, seededRandom, startChurn } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { applyIndexOps, type ObjectRow, openDatabase, temporaryDatabase } from "@atoll/store";
import postgres from "postgres";
import { percentile, rssMb } from "./stats.js";

const PODS = Number(process.env.BENCH_PODS ?? 100_000);
const CHURN = Number(process.env.BENCH_CHURN ?? 500);
const CHURN_SECONDS = Number(process.env.BENCH_CHURN_SECONDS ?? 20);
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
/** As the agent's manifest runs it: a capped heap makes V8 collect instead of growing. */
const AGENT_NODE_OPTIONS = process.env.BENCH_AGENT_NODE_OPTIONS ?? "--max-old-space-size=160";

const random = seededRandom(1);
const word = () =>
  Math.floor(random() * 36 ** 5)
    .toString(36)
    .padStart(5, "0");

function pod(namespace: string, app: string): Record<string, unknown> {
  const hash = word();
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${app}-${hash}-${word()}`,
      namespace,
      labels: {
        app,
        "pod-template-hash": hash,
        team: ["payments", "search", "platform"][Math.floor(random() * 3)]!,
      },
      annotations: { "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z" },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: `${app}-${hash}`,
          uid: `rs-${hash}`,
          controller: true,
        },
      ],
    },
    spec: {
      nodeName: `node-${Math.floor(random() * 200)}`,
      serviceAccountName: "default",
      containers: [
        {
          name: "main",
          image: `ghcr.io/example/${app}:1.${Math.floor(random() * 20)}.0`,
          ports: [{ containerPort: 8080, protocol: "TCP" }],
          env: [{ name: "LOG_LEVEL", value: "info" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
          readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
        },
      ],
    },
    status: {
      phase: "Running",
      podIP: `10.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}`,
      conditions: [
        { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
        { type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" },
      ],
      containerStatuses: [
        {
          name: "main",
          ready: true,
          restartCount: 0,
          image: "x",
          state: { running: { startedAt: "2026-01-01T00:00:00Z" } },
        },
      ],
    },
  };
}

/** The services this run started, stopped if it fails. */
const spawned: ServiceProcess[] = [];

async function main(): Promise<void> {
  const sim = new KubeSim({ name: "bench", token: "bench" });
  await sim.start();
  const podType = sim.store.findType("", "v1", "pods")!;
  const namespaces = Array.from({ length: 50 }, (_, i) => `ns-${i}`);
  for (const name of namespaces) sim.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  for (let i = 0; i < PODS; i++)
    sim.store.create(podType, pod(namespaces[i % namespaces.length]!, `app-${i % 400}`));
  const objects = sim.store.count();
  console.log(`bench:sync pods=${PODS} objects=${objects} (one sim)`);

  // Ceiling: the same bytes the agent would send, upserted in 5000-row transactions.
  const ceilingDb = await temporaryDatabase("bench_ceiling");
  const ceiling = await openDatabase(ceilingDb.url, { migrate: false, maxConnections: 2 });
  const rows: ObjectRow[] = [];
  for (const type of sim.store.types()) {
    for (const { object } of sim.store.entries(type)) {
      rows.push({
        cluster: "bench",
        uid: object.metadata.uid,
        apiGroup: type.group,
        apiVersion: type.version,
        kind: type.kind,
        resource: type.resource,
        namespace: object.metadata.namespace ?? "",
        name: object.metadata.name,
        resourceVersion: BigInt(object.metadata.resourceVersion),
        syncId: "s1",
        objectJson: JSON.stringify(redactObject(object)),
      });
    }
  }
  const ceilingStart = performance.now();
  for (let i = 0; i < rows.length; i += 5000) {
    await applyIndexOps(
      ceiling.sql,
      rows.slice(i, i + 5000).map((row) => ({ op: "upsert" as const, row })),
    );
  }
  const ceilingRate = rows.length / ((performance.now() - ceilingStart) / 1000);
  // The sim lives in this process; dropping the copies keeps its garbage collector from skewing freshness.
  rows.length = 0;
  await ceiling.close();
  await ceilingDb.drop();
  console.log(
    `ceiling: bulk upsert of the same objects into an empty table: ${Math.round(ceilingRate)} objects/s`,
  );

  // Initial sync through the real processes.
  const database = await temporaryDatabase("bench_sync");
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  const prefix = `bench${Date.now().toString(36)}`;
  const bus = await Bus.connect({ url: NATS_URL, name: "bench", prefix, logger: silentLogger() });
  await bus.ensureTopology();
  const dir = mkdtempSync(join(tmpdir(), "atoll-bench-"));
  writeFileSync(join(dir, "bench.kubeconfig"), sim.kubeconfig());
  const env = {
    NATS_URL,
    DATABASE_URL: database.url,
    ATOLL_BUS_PREFIX: prefix,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  };
  const indexer = spawnService("indexer", "@atoll/indexer", env, dir);
  spawned.push(indexer);
  // The indexer is ready once it has announced itself among the indexer members.
  await until(
    async () =>
      (await bus.jsm.streams.info(`KV_${bus.names.membersBucket}`).catch(() => undefined)) !== undefined,
    "the indexer",
    30_000,
  );
  const count = async () => Number((await sql`select count(*)::int as n from resources`)[0]?.n ?? 0);
  const syncStart = performance.now();
  const agent = spawnService(
    "agent",
    "@atoll/agent",
    {
      ...env,
      ATOLL_CLUSTER: "bench",
      KUBECONFIG: join(dir, "bench.kubeconfig"),
      NODE_OPTIONS: AGENT_NODE_OPTIONS,
    },
    dir,
  );
  spawned.push(agent);
  let peakRss = 0;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssMb(agent.process.pid!));
    } catch {
      // The agent is gone; the wait below says why.
    }
  }, 250);
  await until(
    async () => {
      // An agent that runs out of its capped heap is the finding, not a bench that hangs.
      if (agent.process.exitCode !== null || agent.process.signalCode !== null)
        throw new Error(
          `the agent exited (${agent.process.exitCode ?? agent.process.signalCode}) during the initial sync; its log ends:\n${readFileSync(agent.log, "utf8").slice(-2_000)}`,
        );
      return (await count()) >= objects;
    },
    "the initial sync",
    600_000,
    200,
  );
  const syncSeconds = (performance.now() - syncStart) / 1000;
  const syncRate = objects / syncSeconds;
  console.log(
    `initial sync: agent → NATS → indexer → Postgres: ${Math.round(syncRate)} objects/s (${syncSeconds.toFixed(1)} s, process start included) = ${Math.round((100 * syncRate) / ceilingRate)}% of the ceiling`,
  );
  const rssAfterSync = rssMb(agent.process.pid!);

  // Freshness: when each change happened in the sim, against when its history row was written.
  // Deletions are left out: their history row carries the object's last stored version, not the
  // deletion's, so it cannot be matched to the moment of the deletion.
  const changedAt = new Map<number, number>();
  const unsubscribe = sim.store.subscribe((event) => changedAt.set(event.rv, Date.now()));
  const firstRv = sim.store.resourceVersion;
  const churn = startChurn(sim, { ratePerSecond: CHURN, seed: 3 });
  await new Promise((resolve) => setTimeout(resolve, CHURN_SECONDS * 1000));
  churn.stop();
  unsubscribe();
  const lastRv = sim.store.resourceVersion;
  await until(
    async () =>
      Number((await sql`select max(resource_version)::bigint as m from resource_changes`)[0]?.m ?? 0) >=
      lastRv,
    "the last change to be indexed",
    120_000,
    200,
  ).catch(() => undefined);
  const history = await sql`
    select resource_version::bigint as rv, extract(epoch from time) * 1000 as t
    from resource_changes where resource_version > ${firstRv} and change_type <> 'DELETED'`;
  const samples = history
    .map((h) => ({
      at: changedAt.get(Number(h.rv)) ?? Number.NaN,
      latency: Number(h.t) - (changedAt.get(Number(h.rv)) ?? Number.NaN),
    }))
    .filter((sample) => Number.isFinite(sample.latency));
  const latencies = samples.map((sample) => sample.latency).sort((a, b) => a - b);
  const firstAt = Math.min(...samples.map((sample) => sample.at));
  const worstBySecond = new Map<number, number>();
  for (const { at, latency } of samples) {
    const second = Math.floor((at - firstAt) / 1000);
    worstBySecond.set(second, Math.max(worstBySecond.get(second) ?? 0, latency));
  }
  console.log(
    `freshness at ${CHURN} changes/s for ${CHURN_SECONDS} s (${churn.changes} changes, ${latencies.length} events indexed): p50 ${Math.round(percentile(latencies, 50))} ms, p90 ${Math.round(percentile(latencies, 90))} ms, p99 ${Math.round(percentile(latencies, 99))} ms`,
  );
  console.log(
    `  worst latency by second of churn (ms): ${[...worstBySecond]
      .sort((a, b) => a[0] - b[0])
      .map(([, l]) => Math.round(l))
      .join(" ")}`,
  );
  clearInterval(sampler);
  console.log(
    `agent RSS watching ${PODS} pods: ${Math.round(rssAfterSync)} MB after the initial sync, ${Math.round(Math.max(peakRss, rssMb(agent.process.pid!)))} MB peak`,
  );

  await agent.stop();
  await indexer.stop();
  await bus.removeTopology();
  await bus.close();
  if (!process.env.ATOLL_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
  await sql.end();
  await database.drop();
  await sim.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  // A failed run leaves no indexer or agent behind to load the machine for the next one.
  for (const service of spawned) service.kill();
  process.exit(1);
});

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Bus } from "@atoll/bus";
import { type ServiceProcess, spawnService } from "@atoll/devkit";
import { tokenKubeconfig } from "@atoll/kube";
import { type Churn, generateCluster, KubeSim, selfSignedTls, startChurn } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { dropDatabase, ensureDatabase, migrateDatabase } from "@atoll/store";
import { hubOf } from "./hub.js";
import { ensureNats, ensurePostgres, type Started } from "./infra.js";

export interface DemoOptions {
  port: number;
  clusters: number;
  /** Changes per second per sim once the first sync is done. */
  churn: number;
  dir: string;
  natsUrl: string;
  databaseUrl: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Runs the whole system on one machine: simulated clusters, an agent per cluster, the indexer
 * and the query service; prints `ready:` once every sim's objects are in the index.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = resolve(options.dir);
  const logs = join(dir, "logs");
  mkdirSync(logs, { recursive: true });
  const say = (line: string) => console.log(line);
  const cleanups: (() => Promise<void>)[] = [];
  const children: ServiceProcess[] = [];
  const sims: KubeSim[] = [];
  const churns: Churn[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say("stopping…");
    for (const churn of churns) churn.stop();
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(sims.map((s) => s.stop()));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    say("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  const nats: Started = await ensureNats(options.natsUrl, join(dir, "nats"), say);
  cleanups.push(nats.stop);
  const pg: Started = await ensurePostgres(options.databaseUrl, join(dir, "postgres"), say);
  cleanups.push(pg.stop);
  const demoDb = databaseUrl(pg.url, "atoll_demo");
  await dropDatabase(demoDb);
  await ensureDatabase(demoDb);
  await migrateDatabase(demoDb);

  // A fresh bus namespace per run, so a previous demo's backlog never replays into this one.
  const prefix = `demo${randomBytes(3).toString("hex")}`;
  const bus = await Bus.connect({ url: nats.url, name: "atoll-demo", prefix, logger: silentLogger() });
  await bus.ensureTopology();
  cleanups.push(async () => {
    for (const stream of Object.values(bus.names.streams))
      await bus.jsm.streams.delete(stream).catch(() => false);
    await bus.jsm.streams.delete(`KV_${bus.names.clustersBucket}`).catch(() => false);
    await bus.close();
  });

  const expected = new Map<string, number>();
  for (let i = 1; i <= options.clusters; i++) {
    const sim = new KubeSim({
      name: `sim-${i}`,
      token: randomBytes(16).toString("hex"),
      workloads: true,
      namespacesMustExist: true,
    });
    await sim.start();
    generateCluster(sim, {
      seed: i,
      deploymentsPerNamespace: 8,
      failures: { CrashLoopBackOff: i, ImagePullBackOff: 1, Unschedulable: i % 2 },
    });
    writeFileSync(join(dir, `${sim.name}.kubeconfig`), sim.kubeconfig(), { mode: 0o600 });
    sims.push(sim);
  }

  const env = {
    ...process.env,
    NATS_URL: nats.url,
    DATABASE_URL: demoDb,
    ATOLL_BUS_PREFIX: prefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  };
  const start = (name: string, pkg: string, extra: Record<string, string>) => {
    const child = spawnService(name, pkg, { ...env, ...extra }, logs);
    child.process.once("exit", (code, signal) => {
      if (stopping) return;
      console.error(`error: ${name} exited (${signal ?? `code ${code}`}); its log is ${child.log}`);
      void stopAll(1);
    });
    children.push(child);
  };
  start("indexer", "@atoll/indexer", {});
  start("scheduler", "@atoll/scheduler", {});
  // HTTPS with a certificate made for this run: kubectl sends tokens only over TLS.
  const tls = await selfSignedTls();
  const adminToken = randomBytes(24).toString("base64url");
  const caFile = join(dir, "hub.crt");
  writeFileSync(caFile, tls.cert);
  writeFileSync(join(dir, "hub.key"), tls.key, { mode: 0o600 });
  start("query", "@atoll/query", {
    PORT: String(options.port),
    ATOLL_ADMIN_TOKEN: adminToken,
    TLS_CERT_FILE: caFile,
    TLS_KEY_FILE: join(dir, "hub.key"),
  });
  for (const sim of sims) {
    start(`agent-${sim.name}`, "@atoll/agent", {
      ATOLL_CLUSTER: sim.name,
      KUBECONFIG: join(dir, `${sim.name}.kubeconfig`),
      HEARTBEAT_INTERVAL_MS: "2000",
    });
    expected.set(sim.name, sim.store.count());
  }

  const base = `https://127.0.0.1:${options.port}`;
  const hub = hubOf({ hub: base, token: adminToken, "ca-file": caFile });
  const hubKubeconfig = join(dir, "hub.kubeconfig");
  writeFileSync(
    hubKubeconfig,
    tokenKubeconfig({ name: "atoll", server: `${base}/k8s/all`, caCert: tls.cert, token: adminToken }),
    { mode: 0o600 },
  );
  const live = sims[0]!.name;
  const gatewayKubeconfig = join(dir, "gateway.kubeconfig");
  writeFileSync(
    gatewayKubeconfig,
    tokenKubeconfig({
      name: "atoll-live",
      server: `${base}/proxy/clusters/${live}`,
      caCert: tls.cert,
      token: adminToken,
    }),
    { mode: 0o600 },
  );
  const started = Date.now();
  let lastLine = "";
  for (;;) {
    const counts = (await hub.call("GET", "/api/v1/clusters").catch(() => ({ items: [] }))) as {
      items: { name: string; objects: number }[];
    };
    const indexed = new Map(counts.items.map((c) => [c.name, c.objects]));
    const line = [...expected]
      .map(([name, total]) => `${name} ${indexed.get(name) ?? 0}/${total}`)
      .join(" · ");
    if (line !== lastLine) {
      say(`syncing: ${line}`);
      lastLine = line;
    }
    if ([...expected].every(([name, total]) => indexed.get(name) === total)) break;
    if (Date.now() - started > 120_000) {
      console.error(`error: the first sync did not finish in 120 s; see the logs in ${logs}`);
      return stopAll(1);
    }
    await sleep(300);
  }
  for (const sim of sims)
    if (options.churn > 0) churns.push(startChurn(sim, { ratePerSecond: options.churn, seed: 7 }));
  say(`ready: ${base}`);
  say(`token: ${adminToken}`);
  const curl = `curl --cacert ${caFile} -H "Authorization: Bearer ${adminToken}"`;
  say(`  ${curl} '${base}/api/v1/search?mode=nl&q=pods+not+running'`);
  say(`  ${curl} '${base}/api/v1/search?q=kind:Pod+status:CrashLoopBackOff'`);
  say(`  ${curl} '${base}/api/v1/clusters'`);
  say(`  kubectl --kubeconfig ${hubKubeconfig} get pods -A   (every cluster, from the index)`);
  say(
    `  kubectl --kubeconfig ${gatewayKubeconfig} get pods -A   (${live} itself, live through the gateway; logs, exec and port-forward too)`,
  );
  say(
    `  ATOLL_URL=${base} ATOLL_TOKEN=${adminToken} ATOLL_CA_FILE=${caFile} atoll apply -f <karmada-policies-and-templates.yaml>`,
  );
  say(
    `sims: kubectl --kubeconfig ${join(dir, "sim-1.kubeconfig")} get pods -A   (logs in ${logs}; Ctrl-C stops everything)`,
  );
  await new Promise(() => {});
}

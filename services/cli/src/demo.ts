import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Bus, createNkeyUser, natsIdentities, renderServerConfig } from "@atoll/bus";
import { findExecutable, freePort, type ServiceProcess, spawnService, startNatsServer } from "@atoll/devkit";
import { tokenKubeconfig } from "@atoll/kube";
import { type Churn, generateCluster, KubeSim, selfSignedTls, startChurn } from "@atoll/kube-sim";
import { silentLogger } from "@atoll/log";
import { dropDatabase, ensureDatabase, migrateDatabase } from "@atoll/store";
import { hubOf } from "./hub.js";
import { ensurePostgres, SetupError, type Started } from "./infra.js";

export interface DemoOptions {
  port: number;
  clusters: number;
  /** Changes per second per sim once the first sync is done. */
  churn: number;
  dir: string;
  databaseUrl: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLEANUP_TIMEOUT_MS = 5_000;

/**
 * The database a demo uses: the one DATABASE_URL names, kept when the demo stops; or, when it
 * names the server's maintenance database (postgres, as the default does), one made for this run
 * and dropped with it.
 */
export function demoDatabase(serverUrl: string, run: string): { url: string; owned: boolean } {
  const url = new URL(serverUrl);
  const named = decodeURIComponent(url.pathname.slice(1));
  if (named !== "" && named !== "postgres") return { url: serverUrl, owned: false };
  url.pathname = `/atoll_demo_${run}`;
  return { url: url.toString(), owned: true };
}

/**
 * Runs the whole system on one machine: simulated clusters, an agent per cluster, the indexer
 * and the query service; prints `ready:` once every sim's objects are in the index. It secures
 * its own NATS server as production does, and keeps to a database of its own, so several demos
 * can share a machine and none touches another's data.
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
    // Ctrl-C reaches every process of the terminal's group, the NATS server too: no cleanup may
    // wait for a server that is already gone.
    for (const cleanup of cleanups.reverse())
      await Promise.race([cleanup().catch(() => {}), sleep(CLEANUP_TIMEOUT_MS)]);
    say("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  // A fresh bus namespace and database per run: a previous demo's backlog never replays into
  // this one, and a demo drops only the database it made.
  const run = randomBytes(3).toString("hex");
  const prefix = `demo${run}`;
  const pg: Started = await ensurePostgres(options.databaseUrl, join(dir, "postgres"), say);
  cleanups.push(pg.stop);
  const { url: demoDb, owned } = demoDatabase(pg.url, run);
  if (owned) {
    await ensureDatabase(demoDb);
    cleanups.push(() => dropDatabase(demoDb));
  }
  await migrateDatabase(demoDb);
  say(
    `database: ${new URL(demoDb).pathname.slice(1)} (${owned ? "made for this run, dropped when it stops" : "from DATABASE_URL, kept"})`,
  );

  // NATS as production runs it: the hub's identity and one per cluster, nothing anonymous.
  const natsDir = join(dir, "nats");
  mkdirSync(natsDir, { recursive: true });
  if (!findExecutable("nats-server"))
    throw new SetupError(
      "the demo runs its own NATS server and nats-server is not installed.\n" +
        "Install it, then run the demo again:\n" +
        "  Debian/Ubuntu: sudo apt-get install nats-server\n" +
        "  macOS:         brew install nats-server\n" +
        "  other:         download a release of nats-server (2.9 or later) and put it on PATH",
    );
  const hubKey = createNkeyUser();
  const hubCredentials = join(natsDir, "hub.creds");
  writeFileSync(hubCredentials, new TextDecoder().decode(hubKey.getSeed()), { mode: 0o600 });
  const natsPort = await freePort();
  const natsConfig = (clusters: Parameters<typeof natsIdentities>[1]) =>
    renderServerConfig({
      port: natsPort,
      host: "127.0.0.1",
      storeDir: join(natsDir, `store-${run}`),
      identities: natsIdentities(hubKey.getPublicKey(), clusters, prefix),
      limits: { maxFile: "2G", maxMemory: "512M", maxStreams: 64, maxConsumers: 1000 },
    });
  const nats = await startNatsServer({ port: natsPort, config: natsConfig([]) });
  writeFileSync(join(natsDir, "url"), nats.url);
  say(`nats: ${nats.url} (one identity per cluster and one for the hub; credentials in ${natsDir})`);
  const bus = await Bus.connect({
    url: nats.url,
    name: "atoll-demo",
    prefix,
    nkeySeed: new TextDecoder().decode(hubKey.getSeed()),
    logger: silentLogger(),
  });
  await bus.ensureTopology();
  // The server's store is this run's alone; it goes with the server, streams and all.
  cleanups.push(async () => {
    await bus.close();
    await nats.stop();
    rmSync(join(natsDir, `store-${run}`), { recursive: true, force: true });
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
    NATS_CREDENTIALS: hubCredentials,
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
  // The hub's key seals the Secrets it places (and push clusters' kubeconfigs); each agent gets
  // only its own cluster's work key, from its registration.
  const secretKey = randomBytes(32).toString("base64");
  start("scheduler", "@atoll/scheduler", { ATOLL_SECRET_KEY: secretKey });
  // HTTPS with a certificate made for this run: kubectl sends tokens only over TLS.
  const tls = await selfSignedTls();
  // Hex, so the token never starts with "-", which a shell command line would read as a flag.
  const adminToken = randomBytes(24).toString("hex");
  const caFile = join(dir, "hub.crt");
  writeFileSync(caFile, tls.cert);
  writeFileSync(join(dir, "hub.key"), tls.key, { mode: 0o600 });
  start("query", "@atoll/query", {
    PORT: String(options.port),
    ATOLL_ADMIN_TOKEN: adminToken,
    ATOLL_SECRET_KEY: secretKey,
    TLS_CERT_FILE: caFile,
    TLS_KEY_FILE: join(dir, "hub.key"),
  });
  const base = `https://127.0.0.1:${options.port}`;
  const hub = hubOf({ hub: base, token: adminToken, "ca-file": caFile });
  // Each sim is registered in pull mode, as a cluster behind a firewall would be; its agent gets
  // the credentials registration returns, and the NATS server learns its identity on reload.
  for (let attempt = 0; ; attempt++) {
    if (
      await hub.call("GET", "/healthz").then(
        () => true,
        () => false,
      )
    )
      break;
    if (attempt > 150) throw new SetupError(`the query service did not start; its log is in ${logs}`);
    await sleep(200);
  }
  const workKeys = new Map<string, string>();
  for (const sim of sims) {
    const registered = await hub.call("POST", "/api/v1/clusters", { mode: "pull", name: sim.name });
    writeFileSync(join(natsDir, `${sim.name}.creds`), registered.credentials, { mode: 0o600 });
    workKeys.set(sim.name, registered.workKey);
  }
  await nats.reload(natsConfig((await hub.call("GET", "/api/v1/clusters")).items));
  for (const sim of sims) {
    start(`agent-${sim.name}`, "@atoll/agent", {
      ATOLL_MODE: "pull",
      ATOLL_CLUSTER: sim.name,
      KUBECONFIG: join(dir, `${sim.name}.kubeconfig`),
      NATS_CREDENTIALS: join(natsDir, `${sim.name}.creds`),
      ATOLL_WORK_KEY: workKeys.get(sim.name)!,
      HEARTBEAT_INTERVAL_MS: "2000",
    });
    expected.set(sim.name, sim.store.count());
  }
  // Push mode as docs/clusters.md shows it (`atoll cluster register --kubeconfig`): the hub agent syncs
  // every cluster registered with a kubeconfig, sealed under the hub's key.
  start("agent-hub", "@atoll/agent", {
    ATOLL_MODE: "hub",
    ATOLL_SECRET_KEY: secretKey,
    HEARTBEAT_INTERVAL_MS: "2000",
  });

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
  say(`console: ${base}/ui/   (sign in with the token; the certificate is ${caFile})`);
  say(
    `mcp: atoll mcp --hub ${base} --token ${adminToken} --ca-file ${caFile}   (or POST ${base}/mcp; see docs/mcp.md)`,
  );
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

#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Bus, busNames, retryWhileUnreachable } from "@atoll/bus";
import {
  commonConfig,
  loadConfig,
  onShutdown,
  openSecret,
  parseSecretKey,
  serveHealth,
  z,
} from "@atoll/config";
// The responder alone: the gateway's hub side (grants, audit) has no place in a member cluster.
import { ProxyResponder } from "@atoll/gateway/responder";
import { KubeClient } from "@atoll/kube";
import { createLogger } from "@atoll/log";
import { ClusterSync, PushFleet, parseSyncRules, requestSyncRules, WorkApplier } from "@atoll/sync";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

// 1. Config. Modes: "push" syncs one cluster from a kubeconfig beside the hub; "pull" runs in
// the member cluster with only NATS credentials; "hub" syncs every registered push cluster.
const config = loadConfig({
  ...commonConfig,
  /** Port for /healthz and /readyz (Kubernetes probes); 0 turns them off. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  ATOLL_MODE: z.enum(["push", "pull", "hub"]).default("push"),
  ATOLL_CLUSTER: z.string().optional(),
  KUBECONFIG: z.string().optional(),
  KUBE_CONTEXT: z.string().optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().positive().default(5000),
  /** How often discovery runs again, so CRDs created later start syncing. */
  ATOLL_REDISCOVER_MS: z.coerce.number().int().positive().default(60_000),
  /** Push mode: a YAML file of sync rules; the built-in kinds when unset. */
  ATOLL_SYNC_RULES: z.string().optional(),
  /** Hub mode: the key that opens stored kubeconfigs. */
  ATOLL_SECRET_KEY: z.string().optional(),
  /** Pull and push mode: this cluster's work key (from its registration bundle), which opens the Secrets placed on it. */
  ATOLL_WORK_KEY: z.string().optional(),
});
const cluster = config.ATOLL_MODE === "hub" ? undefined : config.ATOLL_CLUSTER;
if (config.ATOLL_MODE !== "hub" && !cluster)
  throw new Error("set ATOLL_CLUSTER to this cluster's registered name");
const logger = createLogger({
  service: "agent",
  level: config.LOG_LEVEL,
  bindings: cluster ? { cluster } : { mode: "hub" },
});

function kubeClient(): KubeClient {
  if (config.KUBECONFIG)
    return KubeClient.fromKubeconfig(readFileSync(config.KUBECONFIG, "utf8"), config.KUBE_CONTEXT);
  return KubeClient.inCluster();
}

// 2. Clients.
let bus: Bus;
try {
  bus = await Bus.connect({
    url: config.NATS_URL,
    name: cluster ? `agent/${cluster}` : "agent/hub",
    prefix: config.ATOLL_BUS_PREFIX,
    logger,
    ...(config.NATS_USER ? { user: config.NATS_USER, pass: config.NATS_PASSWORD } : {}),
    ...(config.NATS_CREDENTIALS ? { credentialsFile: config.NATS_CREDENTIALS } : {}),
    ...(config.ATOLL_MODE === "pull" && cluster
      ? { inboxPrefix: busNames(config.ATOLL_BUS_PREFIX).inboxPrefix(cluster) }
      : {}),
  });
} catch (error) {
  logger.fatal({ err: (error as Error).message }, "cannot connect to NATS");
  process.exit(1);
}

// 3 and 4. Parts, started.
let stop: () => Promise<void>;
if (config.ATOLL_MODE === "hub") {
  const key = parseSecretKey(config.ATOLL_SECRET_KEY);
  // Only the hub agent reads the registry; an agent in a member cluster never loads the store.
  const { listPushClusters, openDatabase } = await import("@atoll/store");
  const database = await openDatabase(config.DATABASE_URL, { logger, migrate: false, maxConnections: 2 });
  const fleet = new PushFleet({
    bus,
    logger,
    agentVersion: version,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    hubKey: key,
    load: async () =>
      (await listPushClusters(database.sql)).map((c) => ({
        name: c.name,
        kubeconfig: openSecret(key, c.kubeconfigSealed),
        kubeContext: c.kubeContext,
        syncRules: c.syncRules,
      })),
  });
  await fleet.start();
  logger.info({ clusters: fleet.clusters }, "hub agent started");
  stop = async () => {
    await fleet.stop();
    await database.close();
  };
} else {
  const rules =
    config.ATOLL_MODE === "pull"
      ? await requestSyncRules(bus, cluster!, logger)
      : config.ATOLL_SYNC_RULES
        ? parseSyncRules(readFileSync(config.ATOLL_SYNC_RULES, "utf8"))
        : undefined;
  const client = kubeClient();
  const sync = new ClusterSync({
    cluster: cluster!,
    client,
    bus,
    logger,
    mode: config.ATOLL_MODE,
    agentVersion: version,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    rediscoverMs: config.ATOLL_REDISCOVER_MS,
    ...(rules ? { rules } : {}),
  });
  await sync.start();
  // Started while a NATS server is replaced, its consumer may not answer at once: wait, not exit.
  const applier = await retryWhileUnreachable(
    "starting the work consumer",
    () =>
      new WorkApplier({
        cluster: cluster!,
        client,
        bus,
        logger,
        existingConsumer: config.ATOLL_MODE === "pull",
        shared: sync,
        ...(config.ATOLL_WORK_KEY
          ? { workKey: parseSecretKey(config.ATOLL_WORK_KEY, "ATOLL_WORK_KEY") }
          : {}),
      }).start(),
    logger,
  );
  // The hub's gateway reaches this cluster through here when it holds no credential for it.
  const responder = new ProxyResponder({ bus, cluster: cluster!, client, logger }).start();
  logger.info(
    { server: client.server, mode: config.ATOLL_MODE, rules: rules?.length ?? "defaults" },
    "agent started",
  );
  stop = async () => {
    await responder.stop();
    await applier.stop();
    await sync.stop();
  };
}

const health = serveHealth(config.HEALTH_PORT, async () => {
  await bus.nc.flush();
});

// 5. Stop: finish and publish what the reflectors already handed over, then drain the bus.
onShutdown(logger, async () => {
  await health.close();
  await stop();
  await bus.close();
});

#!/usr/bin/env node
import { Bus } from "@atoll/bus";
import { commonConfig, loadConfig, onShutdown, serveHealth, z } from "@atoll/config";
import { PlacementReason } from "@atoll/contracts";
import { PlacementController, recordWorkStatuses, requestPlacement, restartedAgents } from "@atoll/control";
import { createLogger } from "@atoll/log";
import { listClusters, listTemplateKeys, openDatabase, recordMetricSnapshots } from "@atoll/store";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  /** Port for /healthz and /readyz (Kubernetes probes); 0 turns them off. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** A cluster with no heartbeat for this long is unreachable: its workloads move elsewhere. */
  ATOLL_CLUSTER_GRACE_SECONDS: z.coerce.number().int().positive().default(30),
  /** How often cluster reachability is checked. */
  ATOLL_CLUSTER_CHECK_MS: z.coerce.number().int().positive().default(2000),
  /** How often fleet figures are recorded for dashboards (objects, issues, health). */
  ATOLL_SNAPSHOT_MS: z.coerce.number().int().positive().default(60_000),
});
const logger = createLogger({ service: "scheduler", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connect({
  url: config.NATS_URL,
  name: "scheduler",
  prefix: config.ATOLL_BUS_PREFIX,
  logger,
  ...(config.NATS_CREDENTIALS ? { credentialsFile: config.NATS_CREDENTIALS } : {}),
});
await bus.ensureTopology();

// 3. Parts.
const controller = new PlacementController({
  sql: database.sql,
  bus,
  logger,
  graceSeconds: config.ATOLL_CLUSTER_GRACE_SECONDS,
});

// 4. Start.
const health = serveHealth(config.HEALTH_PORT, async () => {
  await bus.nc.flush();
  await database.sql`select 1`;
});
const placements = await controller.start();
const statuses = await recordWorkStatuses(database.sql, bus, logger);
// When a cluster goes silent past the grace period, or comes back, or its properties change,
// every template is placed again: workloads leave a lost cluster and return when it does.
let known = "";
const agents = new Map<string, string>();
const watchClusters = setInterval(async () => {
  try {
    const clusters = await listClusters(database.sql, config.ATOLL_CLUSTER_GRACE_SECONDS);
    for (const { cluster, agentId } of restartedAgents(agents, clusters)) {
      const resent = await controller.resendWorks(cluster, agentId);
      agents.set(cluster, agentId);
      logger.info({ cluster, agentId, works: resent }, "agent restarted; sent it its works again");
    }
    const fingerprint = JSON.stringify(
      clusters.map((c) => [c.name, c.online, c.labels, c.taints, c.region, c.zone, c.provider, c.registered]),
    );
    if (fingerprint === known) return;
    const first = known === "";
    known = fingerprint;
    if (first) return;
    logger.info(
      { online: clusters.filter((c) => c.online).map((c) => c.name) },
      "clusters changed; placing again",
    );
    for (const key of await listTemplateKeys(database.sql))
      await requestPlacement(bus, key, PlacementReason.CLUSTER_CHANGED);
  } catch (error) {
    logger.warn({ err: (error as Error).message }, "could not check clusters");
  }
}, config.ATOLL_CLUSTER_CHECK_MS);
const snapshots = setInterval(() => {
  recordMetricSnapshots(database.sql).catch((error: unknown) =>
    logger.warn({ err: (error as Error).message }, "could not record the fleet's figures"),
  );
}, config.ATOLL_SNAPSHOT_MS);
logger.info("scheduler started");

// 5. Stop.
onShutdown(logger, async () => {
  await health.close();
  clearInterval(watchClusters);
  clearInterval(snapshots);
  await placements.stop();
  await statuses.stop();
  await bus.close();
  await database.close();
});

#!/usr/bin/env node
import { Bus, type KvEntry } from "@atoll/bus";
import { commonConfig, envFlag, loadConfig, onShutdown, parseSecretKey, serveHealth, z } from "@atoll/config";
import { heartbeatCodec } from "@atoll/contracts";
import { FleetHealth, FleetMonitor, PlacementController, recordWorkStatuses } from "@atoll/control";
import { heartbeatToRow } from "@atoll/ingest";
import { createLogger } from "@atoll/log";
import { openDatabase, recordMetricSnapshots } from "@atoll/store";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  /** Port for /healthz and /readyz (Kubernetes probes); 0 turns them off. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** A cluster with no heartbeat for this long is unreachable: tainted NoSchedule, nothing moves. */
  ATOLL_CLUSTER_GRACE_SECONDS: z.coerce.number().int().positive().default(30),
  /** How often cluster reachability is checked. */
  ATOLL_CLUSTER_CHECK_MS: z.coerce.number().int().positive().default(2000),
  /** How often fleet figures are recorded for dashboards (objects, issues, health). */
  ATOLL_SNAPSHOT_MS: z.coerce.number().int().positive().default(60_000),
  /** Karmada's --enable-no-execute-taint-eviction: move workloads off clusters with untolerated NoExecute taints. */
  ATOLL_NO_EXECUTE_EVICTION: envFlag(),
  /** Karmada's --resource-eviction-rate: evictions started per second at most. */
  ATOLL_EVICTION_RATE: z.coerce.number().positive().default(0.5),
  /** Karmada's --graceful-eviction-timeout: how long an evicted copy stays at most, in seconds. */
  ATOLL_EVICTION_GRACE_SECONDS: z.coerce.number().int().positive().default(600),
  /** The hub's key: opens stored Secret templates and seals each cluster's copy for its agent. */
  ATOLL_SECRET_KEY: z.string().optional(),
});
const logger = createLogger({ service: "scheduler", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connect({
  url: config.NATS_URL,
  name: "scheduler",
  prefix: config.ATOLL_BUS_PREFIX,
  clusterBacklog: config.ATOLL_BUS_CLUSTER_BACKLOG,
  logger,
  ...(config.NATS_CREDENTIALS ? { credentialsFile: config.NATS_CREDENTIALS } : {}),
});
await bus.ensureTopology();

// 3. Parts. Liveness comes from the heartbeats on the bus, by the server's clock.
const fleet = new FleetHealth();
const hear = (entry: KvEntry) => {
  if (entry.operation !== "PUT") return;
  try {
    const { status } = heartbeatToRow(heartbeatCodec.decode(entry.value));
    fleet.observe(entry.key, entry.created.getTime(), status as never);
  } catch (error) {
    logger.warn(
      { cluster: entry.key, err: (error as Error).message },
      "an unreadable heartbeat; ignoring it",
    );
  }
};
// The last heartbeat of every cluster is read before anything is placed, so the first decisions
// see the fleet as it is rather than as silent; the watch then follows it.
const bucket = await bus.clusters();
for await (const key of await bucket.keys()) {
  const entry = await bucket.get(key);
  if (entry) hear(entry);
}
const heartbeats = bus.watchClusters(async (entry) => hear(entry));
const controller = new PlacementController({
  sql: database.sql,
  bus,
  logger,
  fleet,
  graceSeconds: config.ATOLL_CLUSTER_GRACE_SECONDS,
  evictionGraceSeconds: config.ATOLL_EVICTION_GRACE_SECONDS,
  ...(config.ATOLL_SECRET_KEY ? { secretKey: parseSecretKey(config.ATOLL_SECRET_KEY) } : {}),
});
const monitor = new FleetMonitor({
  sql: database.sql,
  bus,
  logger,
  fleet,
  controller,
  graceSeconds: config.ATOLL_CLUSTER_GRACE_SECONDS,
  evictOnNoExecute: config.ATOLL_NO_EXECUTE_EVICTION,
  evictionsPerSecond: config.ATOLL_EVICTION_RATE,
});
if (config.ATOLL_NO_EXECUTE_EVICTION)
  logger.info({ rate: config.ATOLL_EVICTION_RATE }, "eviction on NoExecute taints is on");

// 4. Start.
const health = serveHealth(config.HEALTH_PORT, async () => {
  await bus.nc.flush();
  await database.sql`select 1`;
  const { disrupted, message, silent } = monitor.disruption;
  return disrupted ? { fleetDisruption: message, silentClusters: silent } : {};
});
const placements = await controller.start();
const statuses = await recordWorkStatuses(database.sql, bus, logger);
// Every few seconds: taint policies, agent restarts, re-placement when clusters change, evictions.
let checking = false;
const watchClusters = setInterval(async () => {
  if (checking) return;
  checking = true;
  try {
    await monitor.check();
  } catch (error) {
    logger.warn({ err: (error as Error).message }, "could not check clusters");
  } finally {
    checking = false;
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
  heartbeats.stop();
  await placements.stop();
  await statuses.stop();
  await bus.close();
  await database.close();
});

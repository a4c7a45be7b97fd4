#!/usr/bin/env node
import { Bus, whileLeading } from "@atoll/bus";
import { commonConfig, envFlag, loadConfig, onShutdown, parseSecretKey, serveHealth, z } from "@atoll/config";
import {
  FleetHealth,
  FleetMonitor,
  followHeartbeats,
  PlacementController,
  recordWorkStatuses,
} from "@atoll/control";
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
  /**
   * Schedulers may run several at once: one leads and the others stand by. A leader that has not
   * renewed its lease for this long is replaced.
   */
  ATOLL_LEADER_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
});
const logger = createLogger({ service: "scheduler", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connectHub(config, "scheduler", logger);

// 3. Parts. Liveness comes from the heartbeats on the bus.
const fleet = new FleetHealth();
const heartbeats = await followHeartbeats(fleet, bus, logger);
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

// 4. Start. A standby follows heartbeats, so it takes over with a current view of the fleet;
// only the leader places, evicts and records.
const role = whileLeading(
  bus,
  { role: "scheduler", leaseMs: config.ATOLL_LEADER_LEASE_MS, logger },
  async () => {
    // Requests a dead leader had taken go to its successor within a lease, not the default 30 s.
    const placements = await controller.start({ ackWaitMs: config.ATOLL_LEADER_LEASE_MS });
    // A start that fails halfway leaves nothing running: the lease goes, and so must the work.
    const statuses = await recordWorkStatuses(database.sql, bus, logger).catch(async (error: unknown) => {
      await placements.stop();
      throw error;
    });
    const checks = monitor.every(config.ATOLL_CLUSTER_CHECK_MS);
    const snapshots = setInterval(() => {
      recordMetricSnapshots(database.sql).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, "could not record the fleet's figures"),
      );
    }, config.ATOLL_SNAPSHOT_MS);
    logger.info("scheduler started");
    return {
      stop: async () => {
        checks.stop();
        clearInterval(snapshots);
        await placements.stop();
        await statuses.stop();
      },
    };
  },
);
const health = serveHealth(config.HEALTH_PORT, async () => {
  await bus.nc.flush();
  await database.sql`select 1`;
  const { disrupted, message, silent } = monitor.disruption;
  return {
    leading: role.leading(),
    ...(disrupted ? { fleetDisruption: message, silentClusters: silent } : {}),
  };
});

// 5. Stop.
onShutdown(logger, async () => {
  await health.close();
  heartbeats.stop();
  await role.stop();
  await bus.close();
  await database.close();
});

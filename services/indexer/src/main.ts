#!/usr/bin/env node
import { Bus, ReplicaWatch } from "@atoll/bus";
import { commonConfig, loadConfig, onShutdown, serveHealth, z } from "@atoll/config";
import { ResourceIndexer } from "@atoll/ingest";
import { readInsightConfig } from "@atoll/insight";
import { createLogger } from "@atoll/log";
import { OpenSearchWriter } from "@atoll/opensearch";
import { openDatabase } from "@atoll/store";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  /** Port for /healthz and /readyz (Kubernetes probes); 0 turns them off. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Messages per transaction; each holds up to 500 events. */
  INDEXER_MAX_BATCH: z.coerce.number().int().positive().default(32),
  INDEXER_DURABLE: z.string().default("indexer"),
  /** Redelivery delay for messages a crashed indexer took but never acked. */
  INDEXER_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
  /** How long a stopped or dead indexer's clusters wait before another indexer takes them. */
  INDEXER_LEASE_TTL_MS: z.coerce.number().int().min(1000).default(15_000),
  /**
   * With replicated streams: how long a consumer's copy may stay behind without catching up before
   * its leader is asked to step down (NATS 2.9 can leave a restarted server's copy behind for minutes).
   */
  ATOLL_BUS_REPLICA_STUCK_MS: z.coerce.number().int().min(1000).default(20_000),
  /** A YAML file tuning the audit and diagnosis rules: disabled, severity, exemptions. */
  ATOLL_INSIGHT_CONFIG: z.string().optional(),
  /** How often clusters that changed get the rules that read other objects (milliseconds). */
  ATOLL_CROSS_OBJECT_MS: z.coerce.number().int().positive().default(15_000),
  /** Also index into OpenSearch (for scale); Postgres stays the source of truth. */
  OPENSEARCH_URL: z.string().url().optional(),
  OPENSEARCH_USERNAME: z.string().optional(),
  OPENSEARCH_PASSWORD: z.string().optional(),
  OPENSEARCH_INDEX_PREFIX: z.string().default(""),
});
const logger = createLogger({ service: "indexer", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connectHub(config, "indexer", logger);

// 3. Parts.
const openSearch = config.OPENSEARCH_URL
  ? new OpenSearchWriter({
      url: config.OPENSEARCH_URL,
      prefix: config.OPENSEARCH_INDEX_PREFIX,
      ...(config.OPENSEARCH_USERNAME
        ? { username: config.OPENSEARCH_USERNAME, password: config.OPENSEARCH_PASSWORD }
        : {}),
    })
  : undefined;
await openSearch?.ensureIndex();
const indexer = new ResourceIndexer({
  bus,
  sql: database.sql,
  databaseUrl: config.DATABASE_URL,
  logger,
  durable: config.INDEXER_DURABLE,
  maxBatch: config.INDEXER_MAX_BATCH,
  ackWaitMs: config.INDEXER_ACK_WAIT_MS,
  leaseTtlMs: config.INDEXER_LEASE_TTL_MS,
  ...(openSearch ? { mirror: openSearch } : {}),
  ...(config.ATOLL_INSIGHT_CONFIG ? { insight: readInsightConfig(config.ATOLL_INSIGHT_CONFIG) } : {}),
  crossObjectMs: config.ATOLL_CROSS_OBJECT_MS,
});
const replicaWatch =
  config.ATOLL_BUS_REPLICAS > 1
    ? new ReplicaWatch(bus, {
        stuckAfterMs: config.ATOLL_BUS_REPLICA_STUCK_MS,
        intervalMs: config.ATOLL_BUS_REPLICA_STUCK_MS / 4,
        logger,
      })
    : undefined;

// 4. Start.
const health = serveHealth(config.HEALTH_PORT, async () => {
  await bus.nc.flush();
  await database.sql`select 1`;
});
await indexer.start();
replicaWatch?.start();
logger.info("indexer started");

// 5. Stop: finish the in-flight batch (and ack it), then drain the bus and close the pool.
onShutdown(logger, async () => {
  await health.close();
  await replicaWatch?.stop();
  await indexer.stop();
  await bus.close();
  await database.close();
});

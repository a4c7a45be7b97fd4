#!/usr/bin/env node
import { Bus } from "@atoll/bus";
import { commonConfig, loadConfig, onShutdown, z } from "@atoll/config";
import { createLogger } from "@atoll/log";
import { OpenSearchWriter } from "@atoll/opensearch";
import { openDatabase } from "@atoll/store";
import { ResourceIndexer } from "@atoll/sync";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  /** Messages per transaction; each holds up to 500 events. */
  INDEXER_MAX_BATCH: z.coerce.number().int().positive().default(32),
  INDEXER_DURABLE: z.string().default("indexer"),
  /** Redelivery delay for messages a crashed indexer took but never acked. */
  INDEXER_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
  /** How long a stopped or dead indexer's clusters wait before another indexer takes them. */
  INDEXER_LEASE_TTL_MS: z.coerce.number().int().min(1000).default(15_000),
  /** Also index into OpenSearch (for scale); Postgres stays the source of truth. */
  OPENSEARCH_URL: z.string().url().optional(),
  OPENSEARCH_USERNAME: z.string().optional(),
  OPENSEARCH_PASSWORD: z.string().optional(),
  OPENSEARCH_INDEX_PREFIX: z.string().default(""),
});
const logger = createLogger({ service: "indexer", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connect({
  url: config.NATS_URL,
  name: "indexer",
  prefix: config.ATOLL_BUS_PREFIX,
  logger,
  ...(config.NATS_CREDENTIALS ? { credentialsFile: config.NATS_CREDENTIALS } : {}),
});
await bus.ensureTopology();

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
  logger,
  durable: config.INDEXER_DURABLE,
  maxBatch: config.INDEXER_MAX_BATCH,
  ackWaitMs: config.INDEXER_ACK_WAIT_MS,
  leaseTtlMs: config.INDEXER_LEASE_TTL_MS,
  ...(openSearch ? { mirror: openSearch } : {}),
});

// 4. Start.
await indexer.start();
logger.info("indexer started");

// 5. Stop: finish the in-flight batch (and ack it), then drain the bus and close the pool.
onShutdown(logger, async () => {
  await indexer.stop();
  await bus.close();
  await database.close();
});

#!/usr/bin/env node
import { Bus } from "@atoll/bus";
import { onShutdown } from "@atoll/config";
import { createLogger } from "@atoll/log";
import { agentNatsUrlFrom, ClusterRegistry, serveSyncRules } from "@atoll/registry";
import { ChangeFeed, openDatabase, SEARCH_SESSION } from "@atoll/store";
import { buildQueryApp } from "./app.js";
import { appOptionsFrom, readQuerySettings, secretKeyOf } from "./settings.js";

// 1. Config.
const config = readQuerySettings();
const logger = createLogger({ service: "query", level: config.LOG_LEVEL });
const appOptions = appOptionsFrom(config);
if (!config.ATOLL_ADMIN_TOKEN && !config.ATOLL_ANONYMOUS_ROLE)
  logger.warn("no ATOLL_ADMIN_TOKEN is set: only tokens already in the database can call the API");
/** How long shutdown lets requests in flight finish before it cuts long-lived streams. */
const STREAM_GRACE_MS = 1_000;

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger, sessionSettings: SEARCH_SESSION });
const bus = await Bus.connectHub(config, "query", logger);

// 3. Parts.
const secretKey = secretKeyOf(config);
const registry = new ClusterRegistry({
  sql: database.sql,
  bus,
  ...(secretKey ? { secretKey } : {}),
  agentNatsUrl: config.ATOLL_AGENT_NATS_URL ?? agentNatsUrlFrom(config.NATS_URL),
  agentImage: config.ATOLL_AGENT_IMAGE,
});
const rulesResponder = serveSyncRules(bus, database.sql, logger);
const changes = new ChangeFeed(database.sql, { logger });
await changes.start();
const indexed = bus.nc.subscribe(bus.names.indexed(), { callback: () => changes.wake() });
const app = buildQueryApp({
  ...appOptions,
  registry,
  bus,
  changes,
  db: database.db,
  sql: database.sql,
  logger,
  checkBus: async () => {
    await bus.nc.flush();
  },
});
// 4. Start.
const address = await app.listen({ host: config.HOST, port: config.PORT });
logger.info({ address }, "query service listening");

// 5. Stop.
onShutdown(logger, async () => {
  rulesResponder.stop();
  indexed.unsubscribe();
  changes.stop();
  // Watches and followed streams never finish by themselves; after a moment for requests in
  // flight, they are cut, and their clients re-establish them against another replica.
  const cutStreams = setTimeout(() => app.server.closeAllConnections(), STREAM_GRACE_MS);
  await app.close();
  clearTimeout(cutStreams);
  await bus.close();
  await database.close();
});

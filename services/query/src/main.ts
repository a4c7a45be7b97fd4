#!/usr/bin/env node
import { Bus } from "@atoll/bus";
import { commonConfig, loadConfig, onShutdown, z } from "@atoll/config";
import { createLogger } from "@atoll/log";
import { openDatabase } from "@atoll/store";
import { buildQueryApp } from "./app.js";

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
});
const logger = createLogger({ service: "query", level: config.LOG_LEVEL });

// 2. Clients.
const database = await openDatabase(config.DATABASE_URL, { logger });
const bus = await Bus.connect({
  url: config.NATS_URL,
  name: "query",
  prefix: config.ATOLL_BUS_PREFIX,
  logger,
});
await bus.ensureTopology();

// 3. Parts.
const app = buildQueryApp({
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
  await app.close();
  await bus.close();
  await database.close();
});

#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Bus } from "@atoll/bus";
import { commonConfig, loadConfig, onShutdown, z } from "@atoll/config";
import { KubeClient } from "@atoll/kube";
import { createLogger } from "@atoll/log";
import { ClusterSync, parseSyncRules } from "@atoll/sync";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

// 1. Config.
const config = loadConfig({
  ...commonConfig,
  ATOLL_CLUSTER: z.string().min(1, "set ATOLL_CLUSTER to this cluster's registered name"),
  KUBECONFIG: z.string().min(1, "set KUBECONFIG to the path of a kubeconfig for this cluster"),
  KUBE_CONTEXT: z.string().optional(),
  ATOLL_MODE: z.enum(["push", "pull"]).default("push"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().positive().default(5000),
  /** Push mode: a YAML file of sync rules (see README); the built-in kinds when unset. */
  ATOLL_SYNC_RULES: z.string().optional(),
});
const logger = createLogger({
  service: "agent",
  level: config.LOG_LEVEL,
  bindings: { cluster: config.ATOLL_CLUSTER },
});

// 2. Clients.
const bus = await Bus.connect({
  url: config.NATS_URL,
  name: `agent/${config.ATOLL_CLUSTER}`,
  prefix: config.ATOLL_BUS_PREFIX,
  logger,
  ...(config.NATS_USER ? { user: config.NATS_USER, pass: config.NATS_PASSWORD } : {}),
});
const client = KubeClient.fromKubeconfig(readFileSync(config.KUBECONFIG, "utf8"), config.KUBE_CONTEXT);
const rules = config.ATOLL_SYNC_RULES
  ? parseSyncRules(readFileSync(config.ATOLL_SYNC_RULES, "utf8"))
  : undefined;

// 3. Parts.
const sync = new ClusterSync({
  cluster: config.ATOLL_CLUSTER,
  client,
  bus,
  logger,
  mode: config.ATOLL_MODE,
  agentVersion: version,
  ...(rules ? { rules } : {}),
  heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
});

// 4. Start.
await sync.start();
logger.info({ server: client.server, mode: config.ATOLL_MODE }, "agent started");

// 5. Stop: finish and publish what the reflectors already handed over, then drain the bus.
onShutdown(logger, async () => {
  await sync.stop();
  await bus.close();
});
